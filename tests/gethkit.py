"""geth v1.17.0, the last release that speaks eth/68, for the interop tests (no tests here).

`geth_binary()` builds it once with `go install` into a cache outside the repository ($SMARTCHAIN_CACHE, else
~/.cache/smartchain, then geth-v1.17.0/bin/geth) that later runs reuse; a file lock makes concurrent pytest workers
build it once (the others wait), and the build announces itself on the terminal since it takes minutes on two cores.
`GethNode` runs it as a user would: `geth init` a data dir from a genesis, `geth import` a chain file, then a node on
127.0.0.1 without discovery and with a fixed node key, asked JSON-RPC over its IPC socket (no HTTP port needed).
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from node.network.rlpx.crypto import keccak256, public_key
from node.network.rlpx.nodekey import enode_url

log = logging.getLogger("smartchain.tests.geth")

GETH_VERSION = "v1.17.0"
GETH_PACKAGE = "github.com/ethereum/go-ethereum/cmd/geth"
BUILD_TIMEOUT = 2400      # seconds: the first build compiles all of go-ethereum with one job at a time (~20 min
                          # on 2 busy cores)
START_TIMEOUT = 60


class GoMissing(Exception):
    """No Go toolchain to build geth with."""


class GethBuildFailed(Exception):
    """`go install` of geth did not produce a working binary."""


class GethFailed(Exception):
    """A geth command or the running geth failed; the message ends with its log."""


def cache_dir() -> Path:
    """Where the geth build lives: $SMARTCHAIN_CACHE, else ~/.cache/smartchain (outside the repository)."""
    root = os.environ.get("SMARTCHAIN_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "smartchain") / f"geth-{GETH_VERSION}"


def find_go() -> str | None:
    """The `go` command: on PATH, else the official tarball's place."""
    found = shutil.which("go")
    if found is None and os.access("/usr/local/go/bin/go", os.X_OK):
        found = "/usr/local/go/bin/go"
    return found


def _announce(message: str) -> None:
    # pytest captures stdout/stderr of tests: the terminal's own stream shows a long build as it starts
    log.warning(message)
    print(f"[gethkit] {message}", file=sys.__stderr__, flush=True)


def _usable(binary: Path) -> bool:
    return binary.is_file() and os.access(binary, os.X_OK)


def geth_binary() -> Path:
    """The cached geth v1.17.0, built first if absent; raises GoMissing or GethBuildFailed."""
    home = cache_dir()
    binary = home / "bin" / "geth"
    if _usable(binary):
        return binary
    go = find_go()
    if go is None:
        raise GoMissing(f"Go is not installed (no `go` on PATH): cannot build geth {GETH_VERSION} for the interop test")
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _announce(f"waiting for another process building geth {GETH_VERSION} into {home}")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if _usable(binary):   # the other process built it
            return binary
        _build(go, home, binary)
    return binary


def _build(go: str, home: Path, binary: Path) -> None:
    staging = home / "staging"   # the binary appears in bin/ whole or not at all
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    _announce(f"building geth {GETH_VERSION} with `go install` into {binary} (once; several minutes on 2 cores)")
    started = time.monotonic()
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOBIN": str(staging)}
    try:
        done = subprocess.run([go, "install", "-p", "1", f"{GETH_PACKAGE}@{GETH_VERSION}"], env=env,
                              capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GethBuildFailed(f"go install of geth {GETH_VERSION} took over {BUILD_TIMEOUT} s") from None
    built = staging / "geth"
    if done.returncode != 0 or not _usable(built):
        raise GethBuildFailed(f"go install of geth {GETH_VERSION} failed (exit {done.returncode}):\n"
                              f"{done.stderr[-4000:]}")
    version = subprocess.run([str(built), "version"], capture_output=True, text=True, timeout=60).stdout
    if f"Version: {GETH_VERSION[1:]}" not in version:
        raise GethBuildFailed(f"the built geth reports another version:\n{version}")
    binary.parent.mkdir(exist_ok=True)
    os.replace(built, binary)
    _announce(f"built geth {GETH_VERSION} in {time.monotonic() - started:.0f} s: {binary}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GethNode:
    """One geth data dir and, once started, its process: `init`, `import_chain`, `start`, `rpc`, `stop`."""

    def __init__(self, binary: Path, datadir: Path, network_id: int, node_key: bytes, max_peers: int = 5) -> None:
        self.binary, self.datadir, self.network_id, self.node_key = binary, datadir, network_id, node_key
        self.max_peers = max_peers
        self.port = free_port()
        self.log = datadir.parent / f"{datadir.name}.log"
        self.ipc = datadir / "geth.ipc"
        self.proc: subprocess.Popen | None = None

    @property
    def enode(self) -> str:
        return enode_url(self.node_key, "127.0.0.1", self.port)

    @property
    def node_id(self) -> str:
        """keccak256 of the public key, as geth's admin_peers and our peer ids name a node."""
        return keccak256(public_key(self.node_key)).hex()

    def _run(self, *args: str, timeout: float = 300) -> None:
        with self.log.open("a") as out:
            out.write(f"$ geth {' '.join(args)}\n")
            out.flush()
            done = subprocess.run([str(self.binary), "--datadir", str(self.datadir), *args], stdout=out,
                                  stderr=subprocess.STDOUT, timeout=timeout)
        if done.returncode != 0:
            raise GethFailed(f"geth {args[0]} exited {done.returncode}:\n{self.log_tail()}")

    def init(self, genesis: Path) -> None:
        self._run("init", str(genesis))

    def import_chain(self, chain_file: Path) -> None:
        self._run("import", str(chain_file))

    def start(self) -> "GethNode":
        args = [str(self.binary), "--datadir", str(self.datadir), "--networkid", str(self.network_id),
                "--nodiscover", "--nat", "none", "--netrestrict", "127.0.0.0/8", "--port", str(self.port),
                "--maxpeers", str(self.max_peers), "--nodekeyhex", self.node_key.hex(),
                "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(free_port()), "--ipcpath", str(self.ipc),
                "--cache", "128", "--verbosity", "4"]
        with self.log.open("a") as out:
            out.write(f"$ {' '.join(args[1:])}\n")
            out.flush()
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise GethFailed(f"geth exited {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                self.rpc("web3_clientVersion")
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise GethFailed(f"geth's IPC {self.ipc} did not answer within {START_TIMEOUT} s:\n"
                                     f"{self.log_tail()}") from None
                time.sleep(0.2)

    def rpc(self, method: str, *params: Any, timeout: float = 10) -> Any:
        """One JSON-RPC call over the IPC socket; raises GethFailed for an error answer."""
        request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(self.ipc))
            sock.sendall(request)
            decoder, data = json.JSONDecoder(), b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"geth closed the IPC connection during {method}")
                data += chunk
                try:
                    answer, _ = decoder.raw_decode(data.decode())
                    break
                except ValueError:   # not all of it yet
                    continue
        if "error" in answer:
            raise GethFailed(f"geth {method}: {answer['error']}")
        return answer["result"]

    def stop(self) -> None:
        stop_process(self.proc)

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log, lines)


def stop_process(proc: subprocess.Popen | None) -> None:
    """SIGTERM a running child, then SIGKILL it if it has not exited within 30 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def log_tail(log: Path, lines: int = 60) -> str:
    """The last `lines` lines of a child's log file (empty if it has none yet)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "GethNode":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
