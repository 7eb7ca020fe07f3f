"""The Devnet's network: its nodes joined by the real network code (node/network's NetworkService: eth/68 messages,
sync and gossip) over in-memory peers, through an InProcessNetwork, plus what a simulated devnet needs on top: to
know when a sealed block or a transaction has reached every connected node, so that `step()` stays deterministic.

Each node is handed to its NetworkService through an `ObservedNode`, which forwards everything to the node and
tells the DevnetNetwork the outcome of every block import and every peer transaction (taken or refused). Waits are
woken by those outcomes, and poll a little for what the network does on its own (connecting peers).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

from eth.abc import BlockAPI
from eth_hash.auto import keccak

from node.chain.chain import ChainError, UnknownAncestor
from node.network.inprocess import InProcessNetwork
from node.network.nodeapi import is_future_block
from node.network.service import NetworkService
from node.node import Node
from node.txpool.errors import TxPoolError

SETTLE_TIMEOUT = 60.0   # s: a devnet that has not settled by then is stuck (raised as DevnetStuck)
POLL = 0.01             # s: how often a wait looks again without being woken


class DevnetStuck(RuntimeError):
    def __init__(self, what: str, timeout: float) -> None:
        super().__init__(f"devnet network did not settle within {timeout:g} s: {what}")


class ObservedNode:
    """A Node as its NetworkService sees it, reporting each import and peer transaction to `observer`."""

    def __init__(self, node: Node, index: int, observer: "DevnetNetwork") -> None:
        self._node = node
        self._index = index
        self._observer = observer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)

    def import_block(self, block: BlockAPI) -> Any:
        try:
            result = self._node.import_block(block)
            self._observer.imported_block(self._index, block)
            return result
        except UnknownAncestor:
            raise   # sync fetches the ancestors: not a refusal
        except ChainError as exc:
            if not is_future_block(exc):   # a block ahead of our clock is tried again: not a refusal either
                self._observer.refused_block(self._index, block, str(exc))
            raise
        finally:
            self._observer.changed()

    def send_raw_transaction(self, raw: bytes, sender: bytes | None = None) -> bytes:
        try:
            return self._node.send_raw_transaction(raw, sender)
        except TxPoolError:
            self._observer.refused_tx(self._index, raw)
            raise
        finally:
            self._observer.changed()


class DevnetNetwork:
    """Nodes by index over one InProcessNetwork; `running[i]` says which take part (a stopped one has no network).
    `on_refused(index, number, reason)` hears each block a node refused; `track_txs`: remember what becomes pending
    for `settle_transactions` (a simulated devnet; a real-time one never waits)."""

    def __init__(self, on_refused: Callable[[int, int, str], None], track_txs: bool = True) -> None:
        # a full mesh: each voter's own broadcast reaches every peer, relays would only repeat it (N^2 per vote)
        self.net = InProcessNetwork(direct_broadcast=False, relay_votes=False)
        self.nodes: list[Node] = []
        self.ids: list[str] = []
        self.running: list[bool] = []
        self._groups: dict[int, int] = {}              # member index -> its side of a partition (absent: the rest)
        self._on_refused = on_refused
        self._done_blocks: list[set[bytes]] = []       # blocks each member imported or refused, until delivered
        self._refused_txs: list[set[bytes]] = []
        self._fresh_txs: set[bytes] = set()            # became pending somewhere, not yet seen everywhere
        self._cond = threading.Condition()
        self._track_txs = track_txs

    # -- what the ObservedNodes report (on the network's threads) ----------------------------------------------------
    def changed(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def imported_block(self, index: int, block: BlockAPI) -> None:
        """`index` is done with `block` (its pool and listeners too, which the header appearing does not say)."""
        with self._cond:
            self._done_blocks[index].add(block.hash)

    def refused_block(self, index: int, block: BlockAPI, reason: str) -> None:
        with self._cond:
            self._done_blocks[index].add(block.hash)
        self._on_refused(index, block.number, reason)

    def refused_tx(self, index: int, raw: bytes) -> None:
        with self._cond:
            self._refused_txs[index].add(keccak(raw))

    def _pending(self, tx: Any) -> None:
        with self._cond:
            self._fresh_txs.add(tx.hash)
            self._cond.notify_all()

    # -- membership --------------------------------------------------------------------------------------------------
    def add(self, node: Node) -> None:
        index = len(self.nodes)
        self.nodes.append(node)
        self.running.append(True)
        self._done_blocks.append(set())
        self._refused_txs.append(set())
        if self._track_txs:
            node.subscribe(on_pending=self._pending)
        if node.votes is not None:
            node.votes.observers.append(self.changed)
        service = self.net.add(ObservedNode(node, index, self))
        self.ids.append(service.id)

    def stop_member(self, index: int) -> None:
        """Its network stops: it neither hears nor tells anything (its peers redial it, refused, until it is back)."""
        self.running[index] = False
        self.net.services[index].stop()
        self.settle()

    def start_member(self, index: int) -> None:
        """Its network starts again, dials every other node and syncs from the heaviest it reaches."""
        self.running[index] = True
        self.net.restart(index)
        self.settle()

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        groups = [list(g) for g in groups]
        self._groups = {i: side for side, group in enumerate(groups) for i in group}
        self.net.partition(*groups)
        self.settle()

    def heal(self) -> None:
        self._groups = {}
        self.net.heal()
        self.settle()

    def stop(self) -> None:
        self.net.stop()

    # -- views -------------------------------------------------------------------------------------------------------
    def reachable(self, a: int, b: int) -> bool:
        return (a != b and self.running[a] and self.running[b]
                and self._groups.get(a, -1) == self._groups.get(b, -1))

    def _service(self, index: int) -> NetworkService:
        return self.net.services[index]

    def _peer_indexes(self, index: int) -> set[int]:
        """The running members `index` is connected to now."""
        service = self._service(index)

        async def ids() -> set[str]:
            return set(service.peers.peers)
        connected = service.loop.run(ids(), timeout=10)
        return {i for i, node_id in enumerate(self.ids) if node_id in connected and self.running[i]}

    def _td(self, index: int) -> int:
        chain = self.nodes[index].chain
        return chain.chaindb.get_score(chain.head.hash)

    # -- waiting -----------------------------------------------------------------------------------------------------
    def wait_until(self, done: Callable[[], bool], what: str, timeout: float = SETTLE_TIMEOUT) -> None:
        """Until `done()` (checked whenever a node reports an import or a transaction, and every POLL s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                if time.monotonic() > deadline:
                    raise DevnetStuck(what, timeout)
                self._cond.wait(POLL)

    def _meshed(self) -> bool:
        """Every running member has as many peers as members it can reach (a test's own peer may come on top)."""
        live = [i for i in range(len(self.nodes)) if self.running[i]]
        return all(self._service(i).peer_count >= sum(self.reachable(i, j) for j in live) for i in live)

    def wait_meshed(self) -> None:
        """Until a link that dropped (a peer disconnected for a refused block or a failed sync) is dialled again:
        in simulated time the network is whole between blocks, so no vote or block goes round a missing link."""
        if not self._meshed():
            self.wait_until(self._meshed, "peers reconnecting")

    def settle(self) -> None:
        """Until every running member is connected to every member it can reach, and has synced to the heaviest
        chain among them."""
        live = [i for i in range(len(self.nodes)) if self.running[i]]
        meshed = self._meshed

        def synced() -> bool:
            return all(self._td(i) >= max([self._td(j) for j in live if self.reachable(i, j)], default=0)
                       for i in live)
        self.wait_until(lambda: meshed() and synced(), "peers connecting and syncing")
        with self._cond:
            for done in self._done_blocks:   # what sync imported is not waited for
                done.clear()

    def deliver(self, origin: int, block: BlockAPI) -> None:
        """Until every member connected to `origin` has imported `block` (or refused it)."""
        targets = self._peer_indexes(origin)

        def delivered() -> bool:
            return all(block.hash in self._done_blocks[i] for i in targets)
        self.wait_until(delivered, f"block #{block.number} reaching members {sorted(targets)}")
        with self._cond:
            for done in self._done_blocks:
                done.discard(block.hash)

    def settle_votes(self, block: BlockAPI) -> None:
        """Until each vote a running member made for `block` has been taken in (or refused) by every running member
        connected to the voter. The members that imported `block` decided on their vote before the import
        returned (the voter is a block listener), so after `deliver` the votes that will exist do."""
        pending = []   # (vote hash, a member connected to its voter) not yet known to have the vote
        for i, node in enumerate(self.nodes):
            voter = node.votes.voter if self.running[i] and node.votes is not None else None
            vote = voter.decisions.get(block.hash) if voter is not None else None
            if vote is not None:
                pending.extend((vote.hash(), j) for j in self._peer_indexes(i))
        pending.reverse()

        def spread() -> bool:
            # woken by every vote any node takes in: pairs already done are dropped, not looked at again
            while pending:
                vote_hash, j = pending[-1]
                votes = self.nodes[j].votes
                if votes is None or not votes.seen(vote_hash):
                    return False
                pending.pop()
            return True
        self.wait_until(spread, f"the votes for block #{block.number} reaching every peer")

    def settle_transactions(self) -> None:
        """Until each transaction that became pending somewhere is in the pool (or chain) of every running member
        connected to a member holding it, or refused there."""
        with self._cond:
            fresh = set(self._fresh_txs)
        for tx_hash in fresh:
            self.wait_until(lambda: self._spread(tx_hash), f"transaction 0x{tx_hash.hex()} reaching every peer")
        with self._cond:
            self._fresh_txs -= fresh
            for refused in self._refused_txs:
                refused -= fresh

    def _spread(self, tx_hash: bytes) -> bool:
        holders = [i for i in range(len(self.nodes)) if self.running[i] and tx_hash in self.nodes[i].pool]
        # settle() keeps the mesh whole: a member reaches every other it may reach
        targets = {j for i in holders for j in range(len(self.nodes)) if self.reachable(i, j)}
        return all(tx_hash in self.nodes[i].pool or tx_hash in self._refused_txs[i]
                   or self.nodes[i].chain.store.tx_location(tx_hash) is not None for i in targets)
