"""`python -m benchmarks.finality`: the per-block cost of fast finality in a chain of N validators (default 21).

Builds the same header chain twice with consensus-level pieces only (PosaEngine, VotePool, votes, no EVM): once
without votes (before), once with every validator voting on each head and each sealer attesting a quorum (after).
Per block it times, in milliseconds (medians): `prepare` (with the attestation assembly), `verify_header` on an
independent engine with the BLS result cache emptied first (what another node pays for the attestation check),
signing one vote, and taking the N votes of a block into a pool with the BLS result cache emptied, one at a time
(`admit_votes`: N single-key checks) and all at once (`admit_votes_batch`: VotePool.put_many, one randomized batch
check: what a node pays when the votes of a block reach it together). Prints a table, then one JSON line.

Then the node-level figure (`run_devnet`): an in-process Devnet of N validators (simulated time, every node a real
Node over the network code) run without vote keys (before) and with them (after): blocks per second, CPU ms per
block over all threads, and the CPU ms per block spent in the finality steps of all N nodes together (each voter
signing and journaling, each pool's admissions with their BLS checks, the sealer's attestation assembly, every
node's attestation check), timed by wrapping those methods in this process only.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from eth.vm.forks.prague.blocks import PragueBlockHeader
from eth_keys import keys
from eth_utils import keccak

from consensus import bls, votes
from consensus.engine import ParliaParams, PosaEngine
from consensus.genesis import genesis_extra
from consensus.header import sign_header
from consensus.votepool import VotePool

CHAIN_ID = 714


class _Validator:
    def __init__(self, index: int):
        self.key = keys.PrivateKey(keccak(b"benchmark validator" + index.to_bytes(4, "big")))
        self.address = self.key.public_key.to_canonical_address()
        self.vote_secret = votes.vote_key_for(self.key.to_bytes())
        self.vote_address = bls.public_key(self.vote_secret)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def run_chain(validators: int, blocks: int, voting: bool) -> dict[str, float]:
    """Median ms per block of each step, and the chain's blocks per second, with or without votes."""
    vals = sorted((_Validator(i) for i in range(validators)), key=lambda v: v.address)
    by_address = {v.address: v for v in vals}
    genesis = PragueBlockHeader(difficulty=1, block_number=0, gas_limit=40_000_000, timestamp=1_700_000_000,
                                extra_data=genesis_extra([(v.address, v.vote_address) for v in vals]),
                                mix_hash=bytes(32), nonce=bytes(8))
    headers = {genesis.hash: genesis}
    params = ParliaParams(CHAIN_ID, 1, 200, [v.address for v in vals])
    producer = PosaEngine(params, headers.get, {})
    verifier = PosaEngine(params, headers.get, {})
    pool = VotePool(headers.__contains__, producer.admit_vote)
    batch_pool = VotePool(headers.__contains__, verifier.admit_vote)   # the same votes, taken in as one batch
    if voting:
        producer.votes_for = pool.fetch
    steps: dict[str, list[float]] = {"prepare": [], "verify_header": [], "sign_vote": [], "admit_votes": [],
                                     "admit_votes_batch": []}
    head = genesis
    started = time.perf_counter()
    for _ in range(blocks):
        sealer = producer.in_turn_validator(head)
        t = time.perf_counter()
        fields = producer.prepare(head, sealer, producer.next_block_ms(head, sealer))
        steps["prepare"].append(_ms(t))
        header = sign_header(PragueBlockHeader(
            parent_hash=head.hash, block_number=head.block_number + 1, coinbase=fields.coinbase,
            difficulty=fields.difficulty, timestamp=fields.timestamp, mix_hash=fields.mix_hash,
            extra_data=fields.extra_data, gas_limit=head.gas_limit, gas_used=0, nonce=bytes(8)),
            by_address[sealer].key, CHAIN_ID)
        bls.clear_caches()  # the attestation's check as a node that did not assemble it
        t = time.perf_counter()
        verifier.verify_header(header, head)
        steps["verify_header"].append(_ms(t))
        headers[header.hash] = header
        head = header
        if not voting:
            continue
        pool.on_new_head(head.block_number)
        batch_pool.on_new_head(head.block_number)
        data = verifier.vote_data(head)
        if data is None:
            continue
        signed = []
        for v in vals:
            t = time.perf_counter()
            signed.append(votes.sign_vote(v.vote_secret, data))
            steps["sign_vote"].append(_ms(t))
        bls.clear_caches()
        t = time.perf_counter()
        for vote in signed:
            pool.put(vote, head.block_number)
        steps["admit_votes"].append(_ms(t))
        bls.clear_caches()
        t = time.perf_counter()
        refused = [str(e) for e in batch_pool.put_many(signed, head.block_number) if e is not None]
        steps["admit_votes_batch"].append(_ms(t))
        if refused:
            raise RuntimeError(f"the batch pool refused votes the single pool took: {refused}")
    total_s = time.perf_counter() - started
    figures = {name: statistics.median(samples) for name, samples in steps.items() if samples}
    figures["blocks_per_s"] = blocks / total_s
    justified, finalized = verifier.justified(head), verifier.finalized(head)
    figures["justified_lag"] = head.block_number - justified[0]
    figures["finalized_lag"] = head.block_number - finalized[0]
    return figures


_DEVNET_STEPS = (("voting (sign + journal)", "node.finality.voter", "Voter", "decide"),
                 ("pool admissions", "consensus.votepool", "VotePool", "put_many"),
                 ("attestation assembly", "consensus.finality", "FastFinality", "assemble"),
                 ("attestation checks", "consensus.finality", "FastFinality", "verify"))


def _forget_checked_votes() -> None:
    """Empty the per-process caches that remember votes, messages and attestations already checked or decoded."""
    from consensus import attestation
    from node.network.bsc import messages

    bls.clear_caches()
    attestation.from_extra.cache_clear()
    messages.clear_caches()


def run_devnet(validators: int, blocks: int, votes_on: bool) -> dict[str, float]:
    """blocks/s, CPU ms per block, and CPU ms per block in each finality step, of a simulated Devnet."""
    import importlib
    import threading

    from node.dev.devnet import Devnet

    spent: dict[str, float] = {label: 0.0 for label, *_ in _DEVNET_STEPS}
    lock = threading.Lock()
    originals = []
    for label, module, cls_name, method in _DEVNET_STEPS:
        cls = getattr(importlib.import_module(module), cls_name)
        original = getattr(cls, method)
        originals.append((cls, method, original))

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.thread_time()
            try:
                return _original(*args, **kwargs)
            finally:
                with lock:
                    spent[_label] += time.thread_time() - started
        setattr(cls, method, timed)
    _forget_checked_votes()   # a Devnet run again makes the same votes: nothing may be known from the last run
    try:
        with Devnet(validators=validators, votes=votes_on) as net:
            net.run(3)   # past the blocks without attestations
            for label in spent:
                spent[label] = 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            net.run(blocks)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            head = net.nodes[0].chain.head
            finalized_lag = head.block_number - net.nodes[0].chain.engine.finalized(head)[0]
    finally:
        for cls, method, original in originals:
            setattr(cls, method, original)
    figures = {"blocks_per_s": blocks / wall, "cpu_ms_per_block": cpu * 1000 / blocks,
               "finalized_lag": finalized_lag}
    figures.update({f"{label} ms/block": value * 1000 / blocks for label, value in spent.items()})
    figures["finality ms/block"] = sum(value * 1000 / blocks for value in spent.values())
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.finality", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--validators", type=int, default=21, help="validators (default: %(default)s)")
    parser.add_argument("-b", "--blocks", type=int, default=40, help="blocks per chain (default: %(default)s)")
    parser.add_argument("-d", "--devnet-blocks", type=int, default=10,
                        help="blocks of the in-process Devnet, each way (default: %(default)s; 0: skip it)")
    parser.add_argument("-r", "--repeat", type=int, default=1,
                        help="Devnet runs each way, alternating (default: %(default)s); the medians are reported")
    args = parser.parse_args(argv)
    before = run_chain(args.validators, args.blocks, voting=False)
    after = run_chain(args.validators, args.blocks, voting=True)
    print(f"{args.validators} validators, {args.blocks} blocks{'':14} before      after")
    for name in ("prepare", "verify_header", "sign_vote", "admit_votes", "admit_votes_batch", "blocks_per_s",
                 "justified_lag",
                 "finalized_lag"):
        unit = "" if name.endswith(("_s", "_lag")) else " ms"
        b = f"{before[name]:8.2f}" if name in before else "       -"
        print(f"{name:36} {b} {after[name]:10.2f}{unit}")
    result = {"validators": args.validators, "blocks": args.blocks,
              "before": {k: round(v, 3) for k, v in before.items()},
              "after": {k: round(v, 3) for k, v in after.items()}}
    if args.devnet_blocks:
        runs = []
        for _ in range(max(1, args.repeat)):   # alternating, so that both ways meet the same load on a shared machine
            runs.append((run_devnet(args.validators, args.devnet_blocks, votes_on=False),
                         run_devnet(args.validators, args.devnet_blocks, votes_on=True)))
        ratios = [v["blocks_per_s"] / p["blocks_per_s"] for p, v in runs]
        plain = {name: statistics.median(p[name] for p, _ in runs) for name in runs[0][0]}
        voting = {name: statistics.median(v[name] for _, v in runs) for name in runs[0][1]}
        print(f"\nDevnet of {args.validators} validators, {args.devnet_blocks} blocks, median of {len(runs)}"
              f"{'':2} no votes      votes")
        for name in voting:
            print(f"{name:36} {plain.get(name, 0.0):8.2f} {voting[name]:10.2f}")
        print(f"{'blocks/s, votes / no votes':36} {statistics.median(ratios):19.2f}x   (each run: "
              f"{' '.join(f'{r:.2f}' for r in ratios)})")
        result["devnet"] = {"blocks": args.devnet_blocks, "ratios": [round(r, 3) for r in ratios],
                            "before": {k: round(v, 3) for k, v in plain.items()},
                            "after": {k: round(v, 3) for k, v in voting.items()}}
    print(json.dumps({"finality": result}))


if __name__ == "__main__":
    main()
