"""Joining NetworkServices in one process with in-memory peers (node/network/memory.py), for tests and the
in-process devnet: the services must share one LoopThread. A link is a static peer like any other: dialled,
redialled with back-off after a disconnect, refused while the other service is stopped."""
from __future__ import annotations

from typing import TYPE_CHECKING

from node.network.memory import memory_pair
from node.network.peer import Peer
from node.network.peers import Dial

if TYPE_CHECKING:
    from node.network.service import NetworkService


class ServiceNotRunning(ConnectionRefusedError):
    def __init__(self, service_id: str) -> None:
        super().__init__(f"connection refused: node {service_id[:16]} is not running")


def memory_dial(local: "NetworkService", remote: "NetworkService") -> Dial:
    """A Dial that connects `local` to `remote` through a fresh in-memory pair."""
    if local.loop is not remote.loop:
        raise ValueError("in-memory peers need both services on one LoopThread")

    async def dial() -> Peer:
        if not remote.running:
            raise ServiceNotRunning(remote.id)
        ours, theirs = memory_pair(local.types, remote.types, ids=(local.id, remote.id))
        remote.accept(theirs)
        return ours
    return dial


def link(local: "NetworkService", remote: "NetworkService") -> bool:
    """Make `remote` a static peer of `local` (from outside the loop)."""
    return local.add_static(remote.id, memory_dial(local, remote))
