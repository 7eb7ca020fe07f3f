"""NetworkService: a node's peer-to-peer network, run on its own asyncio loop in a thread.

It owns the connected peers (node/network/peers.py), keeps static peers dialled, serves peers' eth requests from
our chain and pool (node/network/eth/serve.py), syncs (sync.py) and propagates blocks and transactions
(blockgossip.py, txgossip.py) and, when the node runs fast finality (`node.votes`), votes over BSC's bsc/1
capability (node/network/bsc/). It hears the node through `Node.subscribe` (listeners hand over to the loop with
call_soon_threadsafe, so the producer and the pool never wait for the network) and gives blocks to
`Node.import_block` in an import thread.

Transports are pluggable: RLPx (`listen=(host, port)` for inbound connections, `add_peer(enode)` to dial), or any
`Dial` coroutine function returning a Peer (node/network/memorylink.py joins services in one process). What
JSON-RPC needs (peer count, listening, admin_nodeInfo/admin_peers shapes, add/remove peer, eth_syncing) is here too;
those methods may be called from any thread.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

from node.network import adminview
from node.network.blockgossip import BlockGossip
from node.network.bsc import messages as bsc
from node.network.bsc.gossip import VoteGossip
from node.network.bsc.rlpxpeer import BscRlpxPeer
from node.network.checks import PeerLied
from node.network.eth import protocol as p
from node.network.eth import serve
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status
from node.network.eth.messages import (NewBlock, NewBlockHashes, NewPooledTransactionHashes, Request, Status,
                                       Transactions, UpgradeStatus)
from node.network.importer import Importer
from node.network.loopthread import LoopThread, cancel_and_wait
from node.network.nodeapi import Node
from node.network.peer import DisconnectReason, Peer, PeerDisconnected
from node.network.rlpx.p2p import reason_text
from node.network.peers import MAX_ANNOUNCEMENTS, MAX_PEERS, Dial, PeerSet, PeerState, StaticDialer
from node.network.rlpx.connection import ConnectionConfig, RlpxConnection
from node.network.rlpx.crypto import keccak256, new_private_key, public_key
from node.network.rlpx.nodekey import enode_url, parse_enode
from node.network.rlpx.p2p import Capability
from node.network.rlpx.server import RlpxServer
from node.network.sync import SYNC_INTERVAL, Syncer
from node.network.txgossip import TxGossip

log = logging.getLogger("smartchain.network")

ETH_CAPABILITY = Capability(p.PROTOCOL_NAME, p.ETH68, p.PROTOCOL_LENGTH)
BSC_CAPABILITY = Capability(bsc.PROTOCOL_NAME, bsc.BSC1, bsc.PROTOCOL_LENGTH)   # votes
SERVE_THREADS = 2


class AnnouncementFlood(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(f"announcement flood: more than {count} announcements in a second")


class UnexpectedMessage(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"unexpected {name} after the handshake")


class NetworkStopped(RuntimeError):
    def __init__(self) -> None:
        super().__init__("the p2p network is not running")


class NetworkService:
    """`NetworkService(node, listen=("127.0.0.1", 30311)).start()`; `stop()` disconnects every peer."""

    def __init__(self, node: Node, *, loop: LoopThread | None = None, node_key: bytes | None = None,
                 listen: tuple[str, int] | None = None, max_peers: int = MAX_PEERS, static_peers: Iterable[str] = (),
                 sync_interval: float = SYNC_INTERVAL, handshake_timeout: float = p.HANDSHAKE_TIMEOUT,
                 connection_config: ConnectionConfig | None = None, direct_broadcast: bool = False,
                 relay_votes: bool = True) -> None:
        self.node = node
        self.types = ChainTypes.for_chain(node.chain)
        self.node_key = node_key or new_private_key()
        self.id = keccak256(public_key(self.node_key)).hex()   # as peers name us (RlpxPeer ids)
        self.listen = listen
        self.handshake_timeout = handshake_timeout
        # bsc/1 (votes) when the node runs fast finality: a chain whose validators have no vote keys has none to send
        finality = getattr(node, "votes", None)
        capabilities = [ETH_CAPABILITY] if finality is None else [ETH_CAPABILITY, BSC_CAPABILITY]
        self.connection_config = connection_config or ConnectionConfig(capabilities)
        self._own_loop = loop is None
        self.loop = loop or LoopThread(f"network {self.id[:8]}")
        self.peers = PeerSet(self.id, max_peers)
        self.importer = Importer(node.import_block)
        # requests are answered off the loop too (a thousand bodies take a while to read); one per peer at a time
        self._readers = ThreadPoolExecutor(max_workers=SERVE_THREADS, thread_name_prefix="p2p-serve")
        self.syncer = Syncer(node, self.types, self.peers, self.importer, self.drop, sync_interval)
        self.blocks = BlockGossip(node, self.types, self.peers, self.importer, self.syncer, self.drop, self.spawn,
                                  direct_broadcast)
        self.txs = TxGossip(node, self.peers, self.drop, accepting=lambda: self.syncer.progress is None)
        self.vote_gossip = VoteGossip(finality, self.peers, self._our_td,
                                      lambda: node.clock.now_ms() / 1000, relay_votes)
        self.dialer = StaticDialer(self._connect_static, lambda key: key in self.peers.peers, self.peers.is_banned)
        self.server: RlpxServer | None = None
        self.running = False
        self.dropped: list[tuple[str, str]] = []   # (peer id, why) of the peers we dropped for misbehaving
        self._static_peers = list(static_peers)
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe = None

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> "NetworkService":
        self.loop.start()
        self.loop.run(self._start())
        self._unsubscribe = self.node.subscribe(on_block=self._hear_block, on_pending=self._hear_pending)
        if self.vote_gossip.finality is not None:
            self.vote_gossip.finality.pool.listeners.append(self._hear_vote)
        self.running = True
        return self

    async def _start(self) -> None:
        for job in (self.syncer.run(), self.blocks.run(), self.txs.run_broadcast(), self.txs.run_incoming()):
            self.spawn(job)
        if self.listen is not None:
            self.server = RlpxServer(self.node_key, self.connection_config, self._accept_rlpx, *self.listen)
            await self.server.start()
            log.info("Started P2P networking self=%s", self.enode)
        for url in self._static_peers:
            self._add_enode(url)

    def stop(self) -> None:
        if not self.running:
            return
        self.running = False
        if self._unsubscribe is not None:
            self._unsubscribe()
        finality = self.vote_gossip.finality
        if finality is not None and self._hear_vote in finality.pool.listeners:
            finality.pool.listeners.remove(self._hear_vote)
        try:
            if self.loop.running:   # a shared loop stopped first has already cancelled everything of ours
                self.loop.run(self._stop())
        finally:
            self.importer.close()
            self._readers.shutdown(wait=True, cancel_futures=True)
            self.txs.close()
            if self._own_loop:
                self.loop.stop()

    async def _stop(self) -> None:
        if self.server is not None:
            await self.server.close()
        await asyncio.gather(*(s.peer.disconnect(DisconnectReason.QUITTING) for s in self.peers),
                             return_exceptions=True)
        await self.dialer.close()   # its connections (peers in their handshake too) end disconnected
        await cancel_and_wait(list(self._tasks))

    def spawn(self, coro: Any) -> asyncio.Task:
        """A task this service owns (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- the node's events (on the node's threads: hand over, never wait) ----------------------------------------------
    def _hear_block(self, block: Any, receipts: Any) -> None:
        self._call_soon(self.blocks.broadcast, block)

    def _hear_pending(self, tx: Any) -> None:
        self._call_soon(self.txs.queue_pending, tx)

    def _hear_vote(self, vote: Any) -> None:
        self._call_soon(self.vote_gossip.broadcast, vote)

    def _our_td(self) -> int:
        chain = self.node.chain
        return chain.chaindb.get_score(chain.head.hash)

    def _call_soon(self, fn: Any, *args: Any) -> None:
        try:
            self.loop.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:   # the loop is closed: the service stopped
            pass

    # -- peers -------------------------------------------------------------------------------------------------------
    def accept(self, peer: Peer, info: dict | None = None) -> None:
        """An inbound connection (call on the loop): handshake and serve it in a task."""
        self.spawn(self.run_peer(peer, inbound=True, info=info))

    async def _connect_static(self, peer: Peer) -> bool:
        return await self.run_peer(peer, inbound=False, static=True)

    async def run_peer(self, peer: Peer, *, inbound: bool, static: bool = False, info: dict | None = None) -> bool:
        """One connection from handshake to its end; False if it was refused or failed its handshake. However it
        ends (also cancelled, when the service stops), the peer is disconnected."""
        try:
            return await self._run_peer(peer, inbound, static, info)
        finally:
            if not peer.closed:
                await peer.disconnect(DisconnectReason.QUITTING)

    async def _run_peer(self, peer: Peer, inbound: bool, static: bool, info: dict | None) -> bool:
        chain = self.node.chain
        reason = self.peers.refusal(peer.id, inbound, static)
        if reason is None:
            try:
                status, upgrade = await handshake(peer, local_status(chain), local_fork_filter(chain),
                                                  local_upgrade_status(chain), self.handshake_timeout)
            except Exception as exc:   # HandshakeError (peer already told why), PeerDisconnected, transport errors
                log.debug("handshake with %s failed: %s", peer.id[:16], exc)
                await peer.disconnect(DisconnectReason.SUBPROTOCOL_ERROR)
                return False
            reason = self.peers.refusal(peer.id, inbound, static)   # another connection may have won meanwhile
        if reason is not None:
            await peer.disconnect(reason)
            return False
        state = PeerState(peer, status, inbound, static, info if info is not None else adminview.transport_info(peer),
                          tx_broadcast=upgrade is None or not upgrade.disable_peer_tx_broadcast)
        replaced = self.peers.add(state)
        if replaced is not None:
            await replaced.peer.disconnect(DisconnectReason.ALREADY_CONNECTED)
        log.info("peer connected: %s (%s, td %d)", peer.id[:16], "inbound" if inbound else "outbound", state.td)
        fetcher = self.spawn(self.txs.fetch_from(state))
        peer.handle_satellites(lambda message: self.vote_gossip.on_message(state, message))
        try:
            self.txs.greet(state)
            self.vote_gossip.greet(state)
            self.syncer.trigger()
            await self._serve(state)
        finally:
            self.peers.remove(state)
            fetcher.cancel()
            peer.handle_satellites(None)
            log.info("peer gone: %s (%s)", peer.id[:16], _why(peer))
        return True

    async def _serve(self, state: PeerState) -> None:
        peer = state.peer
        while True:
            try:
                message = await peer.receive()
            except PeerDisconnected:
                return
            if peer.closed:   # what it sent before we dropped it is not looked at
                return
            try:
                await self._dispatch(state, message)
            except PeerDisconnected:
                return
            except Exception as exc:   # a bug handling one message ends that peer, never the service
                log.exception("handling %s from %s failed", type(message).__name__, state.id[:16])
                await self.drop(state, exc)
                return

    async def _dispatch(self, state: PeerState, message: Any) -> None:
        if isinstance(message, Request):
            answer = await asyncio.get_running_loop().run_in_executor(
                self._readers, serve.answer, message, self.node.chain, self.node.pool.get)
            await state.peer.send(answer)
            return
        if isinstance(message, (Status, UpgradeStatus)):
            await self.drop(state, UnexpectedMessage(message.name), ban=False,
                            reason=DisconnectReason.SUBPROTOCOL_ERROR)
            return
        if not state.note_announcement():
            await self.drop(state, AnnouncementFlood(MAX_ANNOUNCEMENTS), ban=False)
            return
        if isinstance(message, NewBlock):
            self.blocks.on_new_block(state, message)
        elif isinstance(message, NewBlockHashes):
            self.blocks.on_block_hashes(state, message)
        elif isinstance(message, Transactions):
            self.txs.on_transactions(state, message.transactions)
        elif isinstance(message, NewPooledTransactionHashes):
            self.txs.on_hashes(state, message)

    async def drop(self, state: PeerState, why: Exception, *, ban: bool | None = None,
                   reason: DisconnectReason = DisconnectReason.USELESS_PEER) -> None:
        """Disconnect a misbehaving peer; one that lied (an invalid block or header, a body that does not match) is
        also refused for a while."""
        if ban is None:
            ban = isinstance(why, PeerLied)
        if ban:
            self.peers.ban(state.id)   # also when it is gone already: it must not come straight back
        if state.peer.closed:
            return
        log.warning("dropping peer %s: %s", state.id[:16], why)
        self.dropped.append((state.id, str(why)))
        del self.dropped[:-64]
        await state.peer.disconnect(reason)

    # -- RLPx --------------------------------------------------------------------------------------------------------
    async def _accept_rlpx(self, connection: RlpxConnection) -> None:
        peer = BscRlpxPeer(connection, self.types)
        peer.start()
        self.accept(peer)

    def _rlpx_dial(self, url: str) -> Dial:
        enode = parse_enode(url)

        async def dial() -> Peer:
            connection = await RlpxConnection.dial(self.node_key, enode.pubkey, enode.host, enode.port,
                                                   self.connection_config)
            peer = BscRlpxPeer(connection, self.types)
            peer.start()
            return peer
        return dial

    def _add_enode(self, url: str) -> bool:
        return self.dialer.add(parse_enode(url).node_id.hex(), self._rlpx_dial(url))

    # -- what RPC needs (any thread) -----------------------------------------------------------------------------------
    @property
    def enode(self) -> str | None:
        """Our enode URL (None without a listener); a wildcard listen address is advertised as 127.0.0.1, the one
        address sure to reach it (no discovery, no NAT mapping here)."""
        if self.server is None:
            return None
        host = "127.0.0.1" if self.server.host in ("", "0.0.0.0", "::") else self.server.host
        return enode_url(self.node_key, host, self.server.port)

    @property
    def listening(self) -> bool:
        return self.running and self.server is not None

    @property
    def peer_count(self) -> int:
        return len(self.peers.peers)

    def add_static(self, key: str, dial: Dial) -> bool:
        """Keep the peer `key` (its id) connected through `dial`."""
        return self._on_loop(self._sync_call(self.dialer.add, key, dial))

    def add_peer(self, url: str) -> bool:
        """admin_addPeer: dial this enode and keep redialling it (raises NodeKeyError for a bad URL)."""
        parse_enode(url)
        self._on_loop(self._sync_call(self._add_enode, url))
        return True

    def remove_peer(self, url: str) -> bool:
        """admin_removePeer: stop redialling it and disconnect it if connected."""
        key = parse_enode(url).node_id.hex()

        async def remove() -> None:
            self.dialer.remove(key)
            state = self.peers.get(key)
            if state is not None:
                await state.peer.disconnect(DisconnectReason.REQUESTED)
        self._on_loop(remove())
        return True

    def peers_info(self) -> list[dict]:
        """admin_peers."""
        return self._on_loop(self._sync_call(adminview.peers_info, self))

    def node_info(self) -> dict:
        """admin_nodeInfo."""
        return self._on_loop(self._sync_call(adminview.node_info, self))

    def syncing(self) -> dict | None:
        """eth_syncing's numbers while a sync runs (startingBlock, currentBlock, highestBlock), else None."""
        progress = self.syncer.progress
        if progress is None:
            return None
        return {"startingBlock": progress.starting, "currentBlock": progress.current,
                "highestBlock": progress.highest}

    def _on_loop(self, coro: Any) -> Any:
        if self.loop.in_loop():
            coro.close()
            raise RuntimeError("call this from outside the network loop")
        if not self.loop.running:
            coro.close()
            raise NetworkStopped()
        return self.loop.run(coro, timeout=10)

    @staticmethod
    async def _sync_call(fn: Any, *args: Any) -> Any:
        return fn(*args)


def _why(peer: Peer) -> str:
    if peer.error is not None:
        return str(peer.error)
    if not peer.closed:
        return "service stopping"
    return f"{'we' if peer.disconnected_by_us else 'peer'} disconnected: {reason_text(peer.disconnect_reason)}"
