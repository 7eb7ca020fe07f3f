"""Block propagation as BSC does it (eth/handler.go BroadcastBlock, eth/fetcher/block_fetcher.go).

Out: each block that joins our canonical chain, sealed here or imported from a peer, goes whole (NewBlock with our
total difficulty) to floor(sqrt(n)) of the peers not known to have it (all of them with BSC's DirectBroadcast) and
as a hash (NewBlockHashes) to the others;
a peer that sent or announced a block is known to have it, so a block never goes back where it came from. Blocks
sync imports are not propagated (geth's downloader does not either).

In: a NewBlock is queued for import; an announced hash we lack is fetched (header, then body, checked against each
other) from its announcer, up to 8 at a time per peer so that a peer announcing blocks it never delivers holds up
nobody else, and the block queued. The queue is worked off one block at a time: the body is checked against the
header (transaction root, uncles, withdrawals); a block whose parent we lack first has its missing ancestors synced
from the same peer; then it goes through the node's import path. A block the chain refuses gets its sender dropped
and banned for a while, except one refused only for being ahead of our clock: that one is tried again a little
later (clocks differ between machines).
"""
from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, Callable, Coroutine

from eth.abc import BlockAPI

from node.network.checks import PeerLied, UnexpectedHeaders, assemble, check_block
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import GetBlockBodies, GetBlockHeaders, NewBlock, NewBlockHashes
from node.network.importer import Importer
from node.network.knownset import KnownSet
from node.network.nodeapi import ChainError, Node, UnknownAncestor, is_future_block
from node.network.peer import PeerDisconnected, RequestTimeout
from node.network.peers import PeerSet, PeerState
from node.network.sync import Drop, InvalidBlock, Syncer

log = logging.getLogger("smartchain.network.blocks")

BLOCK_QUEUE = 64            # blocks waiting to be imported; more are dropped
MAX_FETCHES_PER_PEER = 8    # announced blocks fetched from one peer at a time; more announcements are ignored
MAX_QUEUE_DIST = 32         # geth's fetcher: announcements further ahead of our head are left to sync
FUTURE_RETRY_DELAY = 1.0    # s: a block ahead of our clock is tried again after this (Parlia's shortest period)
FUTURE_RETRIES = 5


class BlockGossip:
    def __init__(self, node: Node, types: ChainTypes, peers: PeerSet, importer: Importer, syncer: Syncer,
                 drop: Drop, spawn: Callable[[Coroutine], Any], direct_broadcast: bool = False) -> None:
        self.node, self.types, self.peers, self.importer, self.syncer = node, types, peers, importer, syncer
        # BSC's DirectBroadcast: every block whole to every peer (small networks trade bandwidth for one hop less)
        self._direct: Callable[[int], int] = (lambda n: n) if direct_broadcast else (lambda n: int(math.sqrt(n)))
        self._drop = drop
        self._spawn = spawn
        self.queue: asyncio.Queue[tuple[PeerState, BlockAPI]] = asyncio.Queue(BLOCK_QUEUE)
        self._queued = KnownSet(BLOCK_QUEUE * 4)
        self._fetching: set[bytes] = set()              # announced hashes being fetched (at most peers x 8)
        self._peer_fetches: dict[PeerState, int] = {}
        self._future: dict[bytes, int] = {}              # block hash -> tries, for blocks ahead of our clock
        self.sent_whole = 0
        self.sent_hashes = 0

    # -- out ---------------------------------------------------------------------------------------------------------
    def broadcast(self, block: BlockAPI) -> None:
        """Propagate a block that joined our canonical chain (call on the loop)."""
        if block.hash in self.syncer.quiet:
            self.syncer.quiet.discard(block.hash)
            return
        td = self.node.chain.chaindb.get_score(block.hash)
        whole, hashes = self.peers.split_lacking(lambda s: block.hash in s.known_blocks, direct=self._direct)
        for state in whole:
            state.known_blocks.add(block.hash)
            self.sent_whole += state.send_soon(NewBlock(block, td))
        for state in hashes:
            state.known_blocks.add(block.hash)
            self.sent_hashes += state.send_soon(NewBlockHashes(((block.hash, block.number),)))

    # -- in ----------------------------------------------------------------------------------------------------------
    def on_new_block(self, state: PeerState, message: NewBlock) -> None:
        block = message.block
        state.known_blocks.add(block.hash)
        # the sender's head is at least this block's parent (it may relay before importing, as BSC does)
        state.set_head(block.hash, message.total_difficulty)
        self._enqueue(state, block)

    def on_block_hashes(self, state: PeerState, message: NewBlockHashes) -> None:
        """Fetch what we lack, a few at a time per peer (geth's fetcher); announcements far ahead of our head are
        left to sync, as geth's maxQueueDist does."""
        head = self.node.chain.head.block_number
        for block_hash, number in message.entries:
            state.known_blocks.add(block_hash)
            if number > head + MAX_QUEUE_DIST or block_hash in self._fetching:
                continue
            if self._peer_fetches.get(state, 0) >= MAX_FETCHES_PER_PEER:
                log.debug("too many fetches from %s: 0x%s not fetched", state.id[:16], block_hash.hex()[:16])
                continue
            if self.node.chain.header_by_hash(block_hash) is None:
                self._fetching.add(block_hash)
                self._peer_fetches[state] = self._peer_fetches.get(state, 0) + 1
                self._spawn(self._fetch_and_queue(state, block_hash))

    async def _fetch_and_queue(self, state: PeerState, block_hash: bytes) -> None:
        try:
            block = await self._fetch(state, block_hash)
            if block is not None:
                self._enqueue(state, block)
        except PeerLied as exc:
            await self._drop(state, exc)
        except (PeerDisconnected, RequestTimeout) as exc:
            log.debug("fetching 0x%s from %s: %s", block_hash.hex()[:16], state.id[:16], exc)
        finally:
            self._fetching.discard(block_hash)
            left = self._peer_fetches.pop(state, 1) - 1
            if left:
                self._peer_fetches[state] = left

    def _enqueue(self, state: PeerState, block: BlockAPI) -> None:
        if block.hash in self._queued or self.node.chain.header_by_hash(block.hash) is not None:
            return
        try:
            self.queue.put_nowait((state, block))
        except asyncio.QueueFull:
            log.debug("block queue full: dropped 0x%s from %s", block.hash.hex()[:16], state.id[:16])
            return
        self._queued.add(block.hash)

    async def run(self) -> None:
        """Import queued blocks one at a time, in arrival order."""
        while True:
            state, block = await self.queue.get()
            self._queued.discard(block.hash)
            try:
                await self._import(state, block)
            except PeerLied as exc:
                await self._drop(state, exc)
            except (PeerDisconnected, RequestTimeout) as exc:
                log.debug("block #%d from %s: %s", block.number, state.id[:16], exc)
            except Exception:
                log.exception("block #%d from %s failed", block.number, state.id[:16])

    async def _import(self, state: PeerState, block: BlockAPI) -> None:
        chain = self.node.chain
        if chain.header_by_hash(block.hash) is not None:
            return
        check_block(block)
        if chain.header_by_hash(block.header.parent_hash) is None:
            if not await self.syncer.sync_to(state, block.header.parent_hash):
                return
        try:
            await self.importer.import_block(block)
        except UnknownAncestor as exc:   # the parent went away meanwhile (a reorg): not the peer's fault
            log.debug("block #%d: %s", block.number, exc)
            return
        except ChainError as exc:
            if is_future_block(exc):   # our clock is behind the sealer's: try again shortly
                self._retry_later(state, block)
                return
            raise InvalidBlock(str(exc)) from exc
        # the peer has this block: its total difficulty is at least ours at it (NewBlockHashes carry no TD)
        state.set_head(block.hash, self.node.chain.chaindb.get_score(block.hash))

    def _retry_later(self, state: PeerState, block: BlockAPI) -> None:
        tries = self._future.get(block.hash, 0)
        if tries >= FUTURE_RETRIES:
            log.info("block #%d stays in the future after %d tries: dropped", block.number, tries)
            return
        self._future[block.hash] = tries + 1
        while len(self._future) > BLOCK_QUEUE:
            self._future.pop(next(iter(self._future)))

        async def later() -> None:
            await asyncio.sleep(FUTURE_RETRY_DELAY)
            self._enqueue(state, block)
        self._spawn(later())

    async def _fetch(self, state: PeerState, block_hash: bytes) -> BlockAPI | None:
        """An announced block from its announcer: its header, then its body (None if it no longer has it)."""
        headers = (await state.peer.request(GetBlockHeaders(0, block_hash, 1))).headers
        if not headers:
            return None
        if len(headers) != 1 or headers[0].hash != block_hash:
            raise UnexpectedHeaders(f"announced block 0x{block_hash.hex()[:16]} not delivered "
                                    f"({len(headers)} other headers)")
        bodies = (await state.peer.request(GetBlockBodies(0, (block_hash,)))).bodies
        if not bodies:
            return None
        if len(bodies) != 1:
            raise UnexpectedHeaders(f"announced block 0x{block_hash.hex()[:16]}: {len(bodies)} bodies")
        return assemble(self.types, headers[0], bodies[0])
