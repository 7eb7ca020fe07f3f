"""Is a TCP port free to listen on? Commands check every port they need before starting anything, so that a taken
port is a clean error with nothing started (and nothing to stop)."""
from __future__ import annotations

import socket
from typing import Iterable


class PortInUse(OSError):
    """A port a command needs is taken."""


def check_free(host: str, ports: Iterable[tuple[int, str]]) -> None:
    """Raise PortInUse naming the first of `ports` ((port, what it is for) pairs) that cannot be bound on `host`.
    Port 0 (any free port) is always free."""
    for port, purpose in ports:
        if port == 0:
            continue
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # as the servers bind: SO_REUSEADDR, so a port in TIME_WAIT counts as free, one in use does not
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(f"{purpose}: {host}:{port} is not available ({exc.strerror or exc})") from None
