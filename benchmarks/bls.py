"""`python -m benchmarks.bls`: milliseconds per BLS operation of fast finality (consensus/bls.py, votes, attestations).

Each timed check uses a message of its own (prepared before the clock starts), so the per-process result cache in
consensus/bls.py never answers: the figures are the cost of the cryptography. Prints a table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from eth_utils import keccak

from consensus import attestation, bls, votes
from consensus.header import ValidatorInfo
from consensus.votes import VoteData


def _keys(n: int) -> list[bytes]:
    return [bls.derive_secret_key(i.to_bytes(4, "big"), b"benchmark") for i in range(n)]


def _time_each(items: list, op: Callable) -> float:
    """Median milliseconds of op(item) over the items."""
    samples = []
    for item in items:
        start = time.perf_counter()
        op(item)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _data(i: int) -> VoteData:
    return VoteData(i, keccak(b"s" + i.to_bytes(8, "big")), i + 1, keccak(b"t" + i.to_bytes(8, "big")))


def run(repeats: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    sk = _keys(1)[0]
    pk = bls.public_key(sk)
    messages = [keccak(i.to_bytes(8, "big")) for i in range(repeats)]
    figures["sign"] = _time_each(messages, lambda m: bls.sign(sk, m))
    signed = [(m, bls.sign(sk, m)) for m in messages]
    figures["verify_1"] = _time_each(signed, lambda ms: _must(bls.verify(pk, *ms)))
    for n in (4, 21):
        secrets = _keys(n)
        validators = tuple(sorted((ValidatorInfo(keccak(s)[:20], bls.public_key(s)) for s in secrets),
                                  key=lambda v: v.address))
        by_key = {bls.public_key(s): s for s in secrets}
        signers = [by_key[v.vote_address] for v in validators][:attestation.quorum(n)]
        prepared = []
        for i in range(repeats):
            data = _data(i + n * 1000)
            prepared.append((data, [votes.sign_vote(s, data) for s in signers]))
        figures[f"aggregate_{len(signers)}_of_{n}"] = _time_each(
            prepared, lambda dv: bls.aggregate(v.signature for v in dv[1]))
        built = [(data, attestation.assemble(vs, validators, data)) for data, vs in prepared]
        figures[f"verify_attestation_{len(signers)}_of_{n}"] = _time_each(
            built, lambda da: attestation.verify_votes(da[1], validators))
    return figures


def _must(ok: bool) -> None:
    if not ok:
        raise RuntimeError("a benchmark signature did not verify")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bls", description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--repeats", type=int, default=30, help="operations per figure (default: %(default)s)")
    figures = run(parser.parse_args(argv).repeats)
    for name, ms in figures.items():
        print(f"{name:32} {ms:8.2f} ms")
    print(json.dumps({"bls_ms": {k: round(v, 3) for k, v in figures.items()}}))


if __name__ == "__main__":
    main()
