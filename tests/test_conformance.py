"""The execution-apis conformance runner, run as a user runs it: the passing count never drops below PASSING."""
import json
import subprocess
import sys

from conftest import REPO_ROOT, shared_path

RUNNER = REPO_ROOT / "tests" / "conformance" / "run.py"
PASSING = REPO_ROOT / "tests" / "conformance" / "PASSING"


def test_conformance_fixtures_pass_at_least_the_recorded_count():
    spec = shared_path("conformance", "execution-apis")
    done = subprocess.run([sys.executable, str(RUNNER), "--json", "--spec", str(spec)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    fixtures = sorted(spec.joinpath("tests").glob("*/*.io"))
    assert summary["total"] == len(fixtures)
    assert sum(passed for passed, _ in summary["methods"].values()) == summary["passed"]
    recorded = int(PASSING.read_text())
    assert summary["passed"] >= recorded, (
        f"{summary['passed']} fixtures pass, {recorded} did before; now failing:\n" + "\n".join(summary["failed"]))


def test_runner_help():
    done = subprocess.run([sys.executable, str(RUNNER), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "--filter" in done.stdout and "--verbose" in done.stdout
