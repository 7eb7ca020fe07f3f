"""Starting and stopping the JSON-RPC front process (rpc/front.py) from the node.

In two steps, so that the front's start-up (importing py-evm takes most of a second) overlaps the node's own:
`start()` binds the port (a port in use fails here, as it would for the in-process server) and spawns the front at
once; `attach(node)` serves the running node to it and waits until it answers. This module imports nothing heavy:
the CLI calls it before it imports the chain.
"""
from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from typing import Callable, Sequence

from rpc.endpoint import Endpoint

log = logging.getLogger("smartchain.rpc")

READY_TIMEOUT = 60.0   # seconds for the front to import, open the data dir and listen
STOP_TIMEOUT = 10.0


class FrontError(RuntimeError):
    """The front process could not start or stopped."""


class FrontProcess(Endpoint):
    """JSON-RPC on `host:port` (port 0: any free port, see `.port`), answered by a second process backed by a node."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8545):
        self.host = host
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.backend = None
        self._link: socket.socket | None = None

    @property
    def app(self):
        """The node's app behind the front (its methods, filters and subscription hub)."""
        return self.backend.app

    def start(self) -> "FrontProcess":
        family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((self.host, self.port), family=family, backlog=1024)
        self.port = listener.getsockname()[1]
        self._link, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "rpc.front", "--listen-fd", str(listener.fileno()),
                 "--link-fd", str(theirs.fileno()), "--verbosity", logging.getLevelName(log.getEffectiveLevel())],
                pass_fds=(listener.fileno(), theirs.fileno()), stdin=subprocess.DEVNULL)
        finally:
            listener.close()   # the front holds the port now
            theirs.close()
        return self

    def attach(self, node, cors_origins: Sequence[str] | None = None, filter_timeout: float | None = None,
               on_lost: Callable[[], None] | None = None) -> "FrontProcess":
        """Serve `node` to the front; returns once the front answers. `on_lost` is called if it exits later."""
        from node.node import DB_DIR
        from rpc.backend import Backend
        from rpc.server import ORIGINS
        extra = {} if filter_timeout is None else {"filter_timeout": filter_timeout}
        self.backend = Backend(node, self._link, cors_origins, on_lost=on_lost, **extra).start()
        self.backend.hand_over({"db": str(node.datadir / DB_DIR), "genesis": str(node.config.genesis),
                                "origins": list(self.backend.app[ORIGINS])})
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.backend.ready.wait(0.01):
            if self.proc.poll() is not None:
                self.stop()
                raise FrontError(f"the JSON-RPC front process exited with {self.proc.returncode} while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise FrontError(f"the JSON-RPC front process did not start within {READY_TIMEOUT:g} s")
        log.info("JSON-RPC on %s (HTTP and WebSocket), served by process %d", self.url, self.proc.pid)
        return self

    def stop(self) -> None:
        if self.backend is not None:
            self.backend.stopping = True   # the front's exit is expected now: no on_lost
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()   # the front closes its WebSockets (1001) and exits
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.backend is not None:
            self.backend.stop()
            self.backend = None
        if self._link is not None:
            self._link.close()
            self._link = None

    def __enter__(self) -> "FrontProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
