"""Child processes the harness talks to over HTTP: the node as users start it, and the bare echo server."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

STOP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smartchain_command() -> list[str]:
    """The `smartchain` console script next to this interpreter (what `pip install -e .` puts in .venv/bin)."""
    script = Path(sys.executable).with_name("smartchain")
    return [str(script)] if script.exists() else [sys.executable, "-m", "node.cli"]


def rpc_once(url: str, method: str, params: Sequence = (), timeout: float = 5.0):
    """One blocking JSON-RPC call with the standard library (for readiness probes, not for load)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


class Child:
    """A child process serving JSON-RPC on `url`; its output goes to `log` (a pipe could fill up and block it)."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict | None = None, keep_log: bool = True):
        self.argv, self.port, self.log_path, self.keep_log = argv, port, log, keep_log
        self.url = f"http://127.0.0.1:{port}/"
        self._log = open(log, "wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)

    def wait_ready(self, method: str = "eth_chainId", timeout: float = 60.0, poll: float = 0.002) -> float:
        """Seconds from spawning to the first answer of `method`."""
        deadline = self.started + timeout
        while True:
            try:
                rpc_once(self.url, method, timeout=timeout)
                return time.perf_counter() - self.started
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}")
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{self.argv[0]} did not answer {method} within {timeout} s; see {self.log_path}")
            time.sleep(poll)

    def tail(self, lines: int = 20) -> str:
        if not self._log.closed:
            self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int:
        """SIGTERM (the node stops cleanly on it), then SIGKILL if it hangs; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        if not self.keep_log and self.proc.returncode == 0:
            self.log_path.unlink(missing_ok=True)
        return self.proc.returncode

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_node(datadir: Path, block_time: float = 0, extra: Sequence[str] = (), prefix: Sequence[str] = ()) -> Child:
    """`smartchain run` on a free port with its own data dir (dev mode, as `smartchain` alone starts it).

    `prefix` runs the node under another launcher (the profiler) with the same arguments.
    """
    port = free_port()
    argv = [*prefix, *(smartchain_command() if not prefix else []), "run", "--datadir", str(datadir),
            "--http.port", str(port), "--block-time", f"{block_time:g}", *extra]
    datadir.mkdir(parents=True, exist_ok=True)
    return Child(argv, port, datadir.parent / f"{datadir.name}.log", env=_env())


def start_echo() -> Child:
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"smartchain-bench-echo-{port}.log"
    return Child([sys.executable, "-m", "benchmarks.echo", "--port", str(port)], port, log, env=_env(),
                 keep_log=False)


def _env() -> dict:
    """The parent's environment with the repository on PYTHONPATH, so `-m benchmarks.*` works from anywhere."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env
