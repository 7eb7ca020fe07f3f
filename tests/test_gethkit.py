"""tests/gethkit.py's one-off build: two processes asking for geth at once build it once (the other waits on the file
lock and reuses it), a later call reuses the cache, and a failed build names the toolchain's error. The toolchain is
a stand-in `go` script (first on PATH) that records each call and writes a `geth` printing the pinned version, so
nothing here compiles go-ethereum."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gethkit

TESTS_DIR = Path(__file__).resolve().parent

STAND_IN_GO = """#!/bin/sh
# a stand-in for `go install`: it holds on until the test lets it finish (the file {calls}.release)
echo "$@" >> "{calls}"
i=0
while [ ! -e "{calls}.release" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
if [ -n "{fail}" ]; then echo "go: module lookup disabled" >&2; exit 1; fi
printf '#!/bin/sh\\necho Geth\\necho "Version: 1.17.0-stable"\\n' > "$GOBIN/geth"
chmod +x "$GOBIN/geth"
"""


def stand_in(tmp_path: Path, fail: bool = False) -> tuple[dict, Path]:
    bin_dir, calls = tmp_path / "fakebin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    go = bin_dir / "go"
    go.write_text(STAND_IN_GO.format(calls=calls, fail="yes" if fail else ""))
    go.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "SMARTCHAIN_CACHE": str(tmp_path / "cache")}
    return env, calls


def ask(env: dict) -> subprocess.Popen:
    code = "import gethkit; print(gethkit.geth_binary())"
    return subprocess.Popen([sys.executable, "-c", code], cwd=TESTS_DIR, env={**env, "PYTHONPATH": str(TESTS_DIR)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_build_once_and_later_calls_reuse_it(tmp_path: Path) -> None:
    env, calls = stand_in(tmp_path)
    first = ask(env)
    deadline = time.monotonic() + 30
    while not calls.exists():   # the first is building, holding the lock
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = ask(env)
    assert "waiting for another process building geth" in second.stderr.readline()
    Path(f"{calls}.release").touch()
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert first.returncode == second.returncode == 0, outs
    binary = tmp_path / "cache" / "geth-v1.17.0" / "bin" / "geth"
    assert [out.strip() for out, _ in outs] == [str(binary)] * 2
    assert calls.read_text().splitlines() == ["install -p 1 github.com/ethereum/go-ethereum/cmd/geth@v1.17.0"]
    assert "building geth v1.17.0" in outs[0][1]
    third = ask(env)
    assert third.communicate(timeout=60)[0].strip() == str(binary) and third.returncode == 0
    assert len(calls.read_text().splitlines()) == 1   # the cache was reused: no second build
    assert not (tmp_path / "cache" / "geth-v1.17.0" / "staging" / "geth").exists()


def test_failed_build_names_the_toolchain_error_and_leaves_no_binary(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env, calls = stand_in(tmp_path, fail=True)
    Path(f"{calls}.release").touch()
    for name in ("PATH", "SMARTCHAIN_CACHE"):
        monkeypatch.setenv(name, env[name])
    with pytest.raises(gethkit.GethBuildFailed, match="module lookup disabled"):
        gethkit.geth_binary()
    assert not (tmp_path / "cache" / "geth-v1.17.0" / "bin" / "geth").exists()
