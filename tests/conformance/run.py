#!/usr/bin/env python3
"""Replay the Ethereum JSON-RPC specification's fixtures (ethereum/execution-apis) against smartchain.

As hive's rpc-compat simulator does: the fixtures' chain is imported into a fresh data dir with the real command
(`smartchain init` + `smartchain import`), the node is started as a user starts it (`smartchain run`, outside dev
mode, with the txpool and debug modules geth recorded with), every fixture is sent in path order and each answer is
judged by the rules in ../shared/conformance/README.md (see judge.py). Prints a table per method and the total;
`--json` adds one JSON line with the figures (the test suite reads it).

    python tests/conformance/run.py [--filter TEXT] [--verbose] [--json] [--spec DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from fixtures import Fixture, load_all  # noqa: E402
from judge import Spec, judge  # noqa: E402

MODULES = "eth,net,web3,txpool,debug,testing"
GETH_PRICE_LIMIT = "1"     # geth's default --txpool.pricelimit (wei), which the recorded sends were accepted under
START_TIMEOUT = 120


def default_spec_dir() -> Path:
    shared = Path(os.environ.get("SMARTCHAIN_SHARED", REPO.parent / "shared"))
    return shared / "conformance" / "execution-apis"


def smartchain(*args: str) -> list[str]:
    """The command line of `smartchain ARGS` with this interpreter (the repository's install)."""
    return [sys.executable, "-m", "node.cli", *args]


class Node:
    """`smartchain run` on a data dir, in a subprocess; its output goes to `log`."""

    def __init__(self, datadir: Path, log: Path):
        self.log_path = log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(
            smartchain("--verbosity", "warning", "run", "--datadir", str(datadir), "--http.port", "0", "--no-dev",
                       "--gas-price", GETH_PRICE_LIMIT, "--http.api", MODULES),
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = self._wait_for_url()
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self._log.write(line)
            match = re.search(r"JSON-RPC: (http://\S+)", line)
            if match:
                return match.group(1)
        self.stop()
        raise RuntimeError(f"smartchain run did not start; its output is in {self.log_path}")

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self._log.write(line)

    def post(self, body: str) -> object:
        request = urllib.request.Request(self.url, data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read()
        try:
            return json.loads(text)
        except ValueError:
            return {"not JSON": text[:200].decode(errors="replace")}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.flush()


def prepare(datadir: Path, tests: Path) -> None:
    """init + import, as a user runs them; a failure stops the run with the command's output."""
    for args in (("init", "--genesis", str(tests / "genesis.json"), "--datadir", str(datadir)),
                 ("import", "--datadir", str(datadir), str(tests / "chain.rlp"))):
        done = subprocess.run(smartchain("--verbosity", "warning", *args), cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"smartchain {args[0]} failed:\n{done.stdout}{done.stderr}")


def replay(node: Node, spec: Spec, fixtures: list[Fixture]) -> dict[str, list[str]]:
    """Each fixture's reasons for failing (empty: passed), in path order."""
    results = {}
    for fixture in fixtures:
        reasons = []
        for number, exchange in enumerate(fixture.exchanges):
            ours = node.post(exchange.request)
            prefix = f"exchange {number + 1}: " if len(fixture.exchanges) > 1 else ""
            reasons += [prefix + r for r in judge(spec, exchange.method or fixture.method, fixture.speconly, ours,
                                                  exchange.response)]
        results[fixture.name] = reasons
    return results


def report(fixtures: list[Fixture], results: dict[str, list[str]], verbose: bool, out=sys.stdout) -> dict:
    total, passed = Counter(), Counter()
    for fixture in fixtures:
        total[fixture.method] += 1
        passed[fixture.method] += not results[fixture.name]
    width = max(len(m) for m in total) if total else 10
    print(f"{'method'.ljust(width)}  passed  total", file=out)
    for method in sorted(total):
        mark = "" if passed[method] == total[method] else "  *"
        print(f"{method.ljust(width)}  {passed[method]:6d}  {total[method]:5d}{mark}", file=out)
    print(f"{'TOTAL'.ljust(width)}  {sum(passed.values()):6d}  {sum(total.values()):5d}", file=out)
    failed = [name for name, reasons in results.items() if reasons]
    if failed:
        print(f"\nfailing ({len(failed)}):", file=out)
        for name in failed:
            reasons = results[name]
            shown = reasons if verbose else reasons[:1]
            more = "" if verbose or len(reasons) == 1 else f" (+{len(reasons) - 1} more)"
            print(f"  {name}: {shown[0]}{more}", file=out)
            for reason in shown[1:]:
                print(f"  {' ' * len(name)}  {reason}", file=out)
    return {"passed": sum(passed.values()), "total": sum(total.values()),
            "methods": {m: [passed[m], total[m]] for m in sorted(total)}, "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--filter", metavar="TEXT", help="run only fixtures whose method/name contains TEXT "
                                                         "(the chain is the same, earlier sends are not replayed)")
    parser.add_argument("--verbose", action="store_true", help="every difference of every failing fixture")
    parser.add_argument("--json", action="store_true", help="end with one JSON line: passed, total, per method")
    parser.add_argument("--spec", type=Path, default=default_spec_dir(),
                        help="the execution-apis copy, with tests/ and src/ (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and the node's log")
    args = parser.parse_args(argv)
    tests, src = args.spec / "tests", args.spec / "src"
    if not (tests / "chain.rlp").exists() or not src.is_dir():
        print(f"run.py: no execution-apis fixtures at {args.spec} (set SMARTCHAIN_SHARED or pass --spec)",
              file=sys.stderr)
        return 2
    fixtures = load_all(tests, args.filter)
    spec = Spec(src)
    workdir = Path(tempfile.mkdtemp(prefix="smartchain-conformance-"))
    started = time.monotonic()
    node = None
    try:
        prepare(workdir / "data", tests)
        node = Node(workdir / "data", workdir / "node.log")
        results = replay(node, spec, fixtures)
    finally:
        if node is not None:
            node.stop()
        if args.keep:
            print(f"data dir and node log kept in {workdir}", file=sys.stderr)
        else:
            import shutil
            shutil.rmtree(workdir, ignore_errors=True)
    summary = report(fixtures, results, args.verbose)
    print(f"\n{summary['passed']} of {summary['total']} fixtures pass ({time.monotonic() - started:.1f} s)")
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
