"""Block propagation as BSC does it (eth/handler.go BroadcastBlock, eth/fetcher/block_fetcher.go).

Out, as BSC's fetcher and BroadcastBlock do it: a block sealed here goes whole (NewBlock with its total difficulty)
to floor(sqrt(n)) of the peers not known to have it (all of them with BSC's DirectBroadcast) and as a hash
(NewBlockHashes) to the others. A block from a peer (sent whole or fetched after an announcement) is relayed whole
to floor(sqrt(n)) peers lacking it as soon as its header passed the engine's checks, before it is imported (so the
next hop does not wait for our execution), and once imported it is announced by hash to the peers still lacking
it; it is never sent whole a second time. A peer that sent or announced a block, or was sent it, is known to have
it, so a block never goes back where it came from. Blocks sync imports are not propagated (geth's downloader does
not either).

In: a NewBlock is queued for import. An announced hash we lack is fetched from its announcer (header, then body,
checked against each other) unless the block arrived whole within BSC's arriveTimeout, up to 8 at a time per peer
so that a peer announcing blocks it never delivers holds up nobody else, and the block queued; an announcement of a
block already queued or being imported fetches nothing. The queue is worked off one block at a time: the body is
checked against the header (transaction root, uncles, withdrawals); a block whose parent we lack first has its
missing ancestors synced from the same peer; its header is checked against its parent (which gates the relay
above), then it goes through the node's import path, the one judge of blocks. A block the chain refuses gets its
sender dropped and banned for a while, except one refused only for being ahead of our clock: that one is tried
again a little later (clocks differ between machines).
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
from typing import Any, Callable, Coroutine

from eth.abc import BlockAPI, BlockHeaderAPI
from eth_utils import ValidationError

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
ARRIVE_TIMEOUT = 0.2        # s: an announced block is fetched only if it has not arrived whole by then (BSC's)
RELAYED_BLOCKS = 1024       # peers' blocks remembered as relayed, so that their import only announces them


class BlockGossip:
    def __init__(self, node: Node, types: ChainTypes, peers: PeerSet, importer: Importer, syncer: Syncer,
                 drop: Drop, spawn: Callable[[Coroutine], Any], direct_broadcast: bool = False) -> None:
        self.node, self.types, self.peers, self.importer, self.syncer = node, types, peers, importer, syncer
        # BSC's DirectBroadcast: every block whole to every peer (small networks trade bandwidth for one hop less)
        self._direct: Callable[[int], int] = (lambda n: n) if direct_broadcast else (lambda n: int(math.sqrt(n)))
        self._drop = drop
        self._spawn = spawn
        # (peer, block, whether the peer served it: answered our request for it, so it surely holds it)
        self.queue: asyncio.Queue[tuple[PeerState, BlockAPI, bool]] = asyncio.Queue(BLOCK_QUEUE)
        self._queued = KnownSet(BLOCK_QUEUE * 4)
        self._importing: bytes | None = None             # the hash of the block being checked and imported
        self._from_peers = KnownSet(RELAYED_BLOCKS)      # peers' blocks: relayed whole already (or not at all)
        self._fetching: set[bytes] = set()              # announced hashes being fetched (at most peers x 8)
        self._peer_fetches: dict[PeerState, int] = {}
        self._future: dict[bytes, int] = {}              # block hash -> tries, for blocks ahead of our clock
        self.arrive_timeout = ARRIVE_TIMEOUT
        self.sent_whole = 0
        self.sent_hashes = 0
        self.fetched = 0   # announced blocks we had to fetch (they did not arrive whole in time)

    # -- out ---------------------------------------------------------------------------------------------------------
    def broadcast(self, block: BlockAPI) -> None:
        """A block joined our canonical chain (call on the loop): one sealed here goes whole to sqrt(n) peers and
        as a hash to the rest; a peer's block, relayed whole before its import, is now only announced."""
        block_hash = block.hash
        if block_hash in self.syncer.quiet:
            self.syncer.quiet.discard(block_hash)
            return
        if block_hash in self._from_peers:
            self._from_peers.discard(block_hash)
        else:
            self._send_whole(block, block_hash, self.node.chain.chaindb.get_score(block_hash))
        self._announce(block_hash, block.number)

    def _send_whole(self, block: BlockAPI, block_hash: bytes, td: int) -> None:
        """NewBlock to floor(sqrt(n)) of the n peers not known to have it (all of them with DirectBroadcast)."""
        lacking = [s for s in self.peers if block_hash not in s.known_blocks]
        random.shuffle(lacking)
        message = NewBlock(block, td)   # one message object for every peer it goes to
        # geth and BSC count the square root of the peers lacking it, not of all peers (eth/handler.go)
        for state in lacking[:self._direct(len(lacking))]:
            state.known_blocks.add(block_hash)
            self.sent_whole += state.send_soon(message)

    def _announce(self, block_hash: bytes, number: int) -> None:
        """NewBlockHashes to every peer not known to have the block (it is in our chain: they may fetch it)."""
        message = NewBlockHashes(((block_hash, number),))
        for state in self.peers:
            if block_hash not in state.known_blocks:
                state.known_blocks.add(block_hash)
                self.sent_hashes += state.send_soon(message)

    # -- in ----------------------------------------------------------------------------------------------------------
    def on_new_block(self, state: PeerState, message: NewBlock) -> None:
        block = message.block
        state.known_blocks.add(block.hash)
        # the sender may relay before importing (as BSC does): its head is only sure to be the parent, with the TD
        # less this block's difficulty (geth's handleBlockBroadcast); a sync asking it for this block could fail
        state.set_head(block.header.parent_hash, max(0, message.total_difficulty - block.header.difficulty))
        self._enqueue(state, block, served=False)

    def on_block_hashes(self, state: PeerState, message: NewBlockHashes) -> None:
        """Fetch what we lack, a few at a time per peer (geth's fetcher); announcements far ahead of our head are
        left to sync, as geth's maxQueueDist does."""
        head = self.node.chain.head.block_number
        for block_hash, number in message.entries:
            state.known_blocks.add(block_hash)
            if number > head + MAX_QUEUE_DIST or self._have_or_want(block_hash):
                continue
            if self._peer_fetches.get(state, 0) >= MAX_FETCHES_PER_PEER:
                log.debug("too many fetches from %s: 0x%s not fetched", state.id[:16], block_hash.hex()[:16])
                continue
            if self.node.chain.header_by_hash(block_hash) is None:
                self._fetching.add(block_hash)
                self._peer_fetches[state] = self._peer_fetches.get(state, 0) + 1
                self._spawn(self._fetch_and_queue(state, block_hash))

    def _have_or_want(self, block_hash: bytes) -> bool:
        """Being fetched, waiting in the queue or being imported (the chain is asked separately)."""
        return block_hash in self._fetching or block_hash in self._queued or block_hash == self._importing

    async def _fetch_and_queue(self, state: PeerState, block_hash: bytes) -> None:
        try:
            # BSC's arriveTimeout: a relay usually brings the block whole meanwhile, and then nothing is fetched
            await asyncio.sleep(self.arrive_timeout)
            if block_hash in self._queued or block_hash == self._importing \
                    or self.node.chain.header_by_hash(block_hash) is not None:
                return
            self.fetched += 1
            block = await self._fetch(state, block_hash)
            if block is not None:
                self._enqueue(state, block, served=True)
        except PeerLied as exc:
            await self._drop(state, exc)
        except (PeerDisconnected, RequestTimeout) as exc:
            log.debug("fetching 0x%s from %s: %s", block_hash.hex()[:16], state.id[:16], exc)
        finally:
            self._fetching.discard(block_hash)
            left = self._peer_fetches.pop(state, 1) - 1
            if left:
                self._peer_fetches[state] = left

    def _enqueue(self, state: PeerState, block: BlockAPI, served: bool) -> None:
        block_hash = block.hash
        if block_hash in self._queued or block_hash == self._importing \
                or self.node.chain.header_by_hash(block_hash) is not None:
            return
        try:
            self.queue.put_nowait((state, block, served))
        except asyncio.QueueFull:
            log.debug("block queue full: dropped 0x%s from %s", block_hash.hex()[:16], state.id[:16])
            return
        self._queued.add(block_hash)

    async def run(self) -> None:
        """Import queued blocks one at a time, in arrival order."""
        while True:
            state, block, served = await self.queue.get()
            self._queued.discard(block.hash)
            self._importing = block.hash
            try:
                await self._import(state, block, served)
            except PeerLied as exc:
                await self._drop(state, exc)
            except (PeerDisconnected, RequestTimeout) as exc:
                log.debug("block #%d from %s: %s", block.number, state.id[:16], exc)
            except Exception:
                log.exception("block #%d from %s failed", block.number, state.id[:16])
            finally:
                self._importing = None

    async def _import(self, state: PeerState, block: BlockAPI, served: bool) -> None:
        chain = self.node.chain
        block_hash, header = block.hash, block.header
        if chain.header_by_hash(block_hash) is not None:
            return
        check_block(block)
        parent = chain.header_by_hash(header.parent_hash)
        if parent is None:
            if not await self.syncer.sync_to(state, header.parent_hash):
                return
            parent = chain.header_by_hash(header.parent_hash)
            if parent is None:   # synced, then reorganised away: the next announcement brings it again
                return
        # a peer's block is relayed whole here at most, never after its import (broadcast only announces it)
        self._from_peers.add(block_hash)
        # in the import thread: the engine's caches (snapshots, seal signers) are the import's, touched by one thread
        if await self.importer.run(self._verify_header, header, parent):
            self._send_whole(block, block_hash, chain.chaindb.get_score(parent.hash) + header.difficulty)
        try:
            await self.importer.import_block(block)
        except UnknownAncestor as exc:   # the parent went away meanwhile (a reorg): not the peer's fault
            log.debug("block #%d: %s", block.number, exc)
            return
        except ChainError as exc:
            if is_future_block(exc):   # our clock is behind the sealer's: try again shortly
                self._retry_later(state, block, served)
                return
            raise InvalidBlock(str(exc)) from exc
        if served:   # it answered for this block: its total difficulty is at least ours at it (hashes carry none)
            state.set_head(block_hash, self.node.chain.chaindb.get_score(block_hash))

    def _verify_header(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> bool:
        """Whether `header` passes the engine's checks on `parent` (seal, signer's turn, fields, time), as BSC's
        fetcher asks before relaying. A block that fails is not relayed; it still goes to the node's import path,
        the one judge of blocks, which refuses it for the same reason (and its sender is dropped for it). A block
        ahead of our clock is not relayed either (BSC's answer to ErrFutureBlock): it is imported later."""
        chain = self.node.chain
        try:
            chain.engine.verify_header(header, parent, chain.clock_ms())
        except ValidationError as exc:   # the engine's ConsensusError (FutureBlock too) and py-evm's checks alike
            log.debug("block #%d (0x%s) not relayed: %s", header.block_number, header.hash.hex()[:16], exc)
            return False
        return True

    def _retry_later(self, state: PeerState, block: BlockAPI, served: bool) -> None:
        tries = self._future.get(block.hash, 0)
        if tries >= FUTURE_RETRIES:
            log.info("block #%d stays in the future after %d tries: dropped", block.number, tries)
            return
        self._future[block.hash] = tries + 1
        while len(self._future) > BLOCK_QUEUE:
            self._future.pop(next(iter(self._future)))

        async def later() -> None:
            await asyncio.sleep(FUTURE_RETRY_DELAY)
            self._enqueue(state, block, served)
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
