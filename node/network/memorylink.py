"""Joining NetworkServices in one process with in-memory peers (node/network/memory.py), for tests and the
in-process devnet: the services must share one LoopThread. A link is a static peer like any other: dialled,
redialled with back-off after a disconnect, refused while the other service is stopped.

A MemoryHub plays the part of addresses: a link names the remote by its id and finds whichever service holds that id
when it dials, so a node whose service was stopped and started again (a new NetworkService with the same node key)
is found again, as a restarted process is at its old enode. It can also partition the network and heal it (what the
in-process Devnet simulates).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from node.network.memory import memory_pair
from node.network.peer import DisconnectReason, Peer
from node.network.peers import Dial

if TYPE_CHECKING:
    from node.network.service import NetworkService


class ServiceNotRunning(ConnectionRefusedError):
    def __init__(self, service_id: str) -> None:
        super().__init__(f"connection refused: node {service_id[:16]} is not running")


class Unreachable(ConnectionRefusedError):
    def __init__(self, service_id: str) -> None:
        super().__init__(f"node {service_id[:16]} is unreachable (network partition)")


class MemoryHub:
    """Services by id, as they join; a partition makes some unreachable from others."""

    def __init__(self) -> None:
        self.services: dict[str, "NetworkService"] = {}
        self._group: dict[str, int] = {}   # service id -> its side of the partition (absent: the rest)

    def join(self, service: "NetworkService") -> "NetworkService":
        self.services[service.id] = service
        return service

    def reachable(self, a: str, b: str) -> bool:
        return self._group.get(a, -1) == self._group.get(b, -1)

    def partition(self, *groups: list[str]) -> None:
        """Split the network: services (by id) reach only those in their own group (the rest form one more); peers
        across the cut are disconnected, as a broken link would drop them. Call from outside the loop."""
        self._group = {service_id: index for index, group in enumerate(groups) for service_id in group}
        for service in self.services.values():
            if service.running:
                service.loop.run(self._cut(service))

    async def _cut(self, service: "NetworkService") -> None:
        for state in service.peers:
            if not self.reachable(service.id, state.id):
                await state.peer.disconnect(DisconnectReason.NETWORK_ERROR)

    def heal(self) -> None:
        """Every service reaches every other again, and redials its static peers now."""
        self._group = {}
        for service in self.services.values():
            if service.running:
                service.loop.run(self._redial(service))

    @staticmethod
    async def _redial(service: "NetworkService") -> None:
        service.dialer.redial_now()

    def dial(self, local: "NetworkService", remote_id: str) -> Dial:
        """A Dial that connects `local` to the service now holding `remote_id`, through a fresh in-memory pair."""
        async def dial() -> Peer:
            remote = self.services.get(remote_id)
            if remote is None or not remote.running:
                raise ServiceNotRunning(remote_id)
            if not self.reachable(local.id, remote_id):
                raise Unreachable(remote_id)
            if local.loop is not remote.loop:
                raise ValueError("in-memory peers need both services on one LoopThread")
            ours, theirs = memory_pair(local.types, remote.types, ids=(local.id, remote.id))
            remote.accept(theirs)
            return ours
        return dial

    def link(self, local: "NetworkService", remote_id: str) -> bool:
        """Make the node `remote_id` a static peer of `local` (from outside the loop)."""
        return local.add_static(remote_id, self.dial(local, remote_id))


def link(local: "NetworkService", remote: "NetworkService") -> bool:
    """Make `remote` a static peer of `local` (from outside the loop)."""
    hub = MemoryHub()
    hub.join(remote)
    return hub.link(local, remote.id)
