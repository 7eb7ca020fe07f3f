"""Several in-process nodes joined by the real network code over in-memory peers: one loop thread, one MemoryHub,
every node a static peer of every other (as BSC's init-network writes them). What the in-process Devnet needs to
exchange the same eth messages, through the same sync and gossip, as separate processes do."""
from __future__ import annotations

from typing import Iterable

from node.network.loopthread import LoopThread
from node.network.memorylink import MemoryHub
from node.network.nodeapi import Node
from node.network.service import NetworkService


class InProcessNetwork:
    """`net = InProcessNetwork(); net.add(node)` for each node (joins it to all added before); `net.stop()`."""

    def __init__(self, direct_broadcast: bool = True, **options) -> None:
        self.loop = LoopThread("in-process network").start()
        self.hub = MemoryHub()
        self.services: list[NetworkService] = []
        self._options = {"direct_broadcast": direct_broadcast, **options}

    def add(self, node: Node) -> NetworkService:
        """Start `node`'s network and make every earlier node its static peer (one dial per pair)."""
        service = self.hub.join(NetworkService(node, loop=self.loop, **self._options).start())
        for other in self.services:
            self.hub.link(service, other.id)
        self.services.append(service)
        return service

    def restart(self, index: int) -> NetworkService:
        """Stop node `index`'s network and start a new one with the same id (its peers redial it)."""
        old = self.services[index]
        old.stop()
        options = {**self._options, "node_key": old.node_key}
        service = self.hub.join(NetworkService(old.node, loop=self.loop, **options).start())
        for other in self.services:
            if other is not old:
                self.hub.link(service, other.id)
        self.services[index] = service
        return service

    def partition(self, *groups: Iterable[int]) -> None:
        """Nodes (by index) reach only those in their own group; the unnamed rest form one more."""
        self.hub.partition(*([self.services[i].id for i in group] for group in groups))

    def heal(self) -> None:
        self.hub.heal()

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        self.loop.stop()
