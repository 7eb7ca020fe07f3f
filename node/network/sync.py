"""Full sync as geth's pre-merge downloader and BSC's chainSyncer do it: from the peer with the highest total
difficulty, on connect and every 10 s.

One sync: the peer's head header, the common ancestor (binary search over block numbers), then headers in batches of
192 that must link to the ancestor and pass the engine's checks (node/network/checks.py) before any of their bodies
is asked for (a batch after the first is checked once the blocks before it are imported: the engine reads its
snapshots from the chain), then bodies in batches growing from FIRST_BODY_BATCH to BODY_BATCH, matched to their
headers. Fetch and import overlap, as in geth's downloader: a fetch task asks for the next batches while each
complete batch is handed, in order, to the node's import path (in the import thread); at most AHEAD_BATCHES batches
are fetched or waiting ahead of the import, so memory stays bounded. A peer whose answers do not add up (unlinked or
invalid headers, bodies that do not match, a block the chain refuses) is dropped; one that merely has less than it
claimed ends the sync (the complete batches fetched before either are imported first).

After the merge total difficulty stops growing (proof-of-stake blocks have difficulty 0) and geth's eth/68 Status
leaves it out (0 on the wire), so on a chain with a terminal total difficulty a peer whose head we do not know is
also a candidate: its head header is asked for once, and a head higher than ours is synced to (there is no
consensus client here to name the head; the highest chain that imports is the one to follow).
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass
from typing import Awaitable, Callable

from eth.abc import BlockAPI, BlockHeaderAPI

from node.network.checks import PeerLied, UnexpectedHeaders, assemble, check_headers
from node.network.eth import protocol as p
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import BlockHeaders, GetBlockBodies, GetBlockHeaders
from node.network.importer import Importer
from node.network.knownset import KnownSet
from node.network.nodeapi import ChainError, Node, is_future_block
from node.network.peer import PeerDisconnected, RequestTimeout
from node.network.peers import PeerSet, PeerState

log = logging.getLogger("smartchain.network.sync")

SYNC_INTERVAL = 10.0   # BSC's forceSyncCycle
QUIET_BLOCKS = 4096
PROBED_HEADS = 1024   # (peer, head) pairs whose height was already asked for after the merge
BODY_BATCH = 8        # blocks per GetBlockBodies at most: small, so imports follow the fetch closely
FIRST_BODY_BATCH = 2  # after a header batch's checks, batches grow from this to BODY_BATCH: the import starts sooner
AHEAD_BATCHES = 4     # body batches fetched or queued ahead of the import (bounds the memory a sync holds)


class InvalidBlock(PeerLied):
    """A block the chain refused: its sender is dropped and banned for a while."""


class MissingHead(Exception):
    """The peer does not serve the head it claimed (geth's downloader drops such a peer, errBadPeer)."""


@dataclass
class SyncProgress:
    """What eth_syncing reports while a sync runs."""

    starting: int
    current: int
    highest: int


Drop = Callable[[PeerState, Exception], Awaitable[None]]


class Syncer:
    def __init__(self, node: Node, types: ChainTypes, peers: PeerSet, importer: Importer, drop: Drop,
                 interval: float = SYNC_INTERVAL) -> None:
        self.node, self.types, self.peers, self.importer = node, types, peers, importer
        self._drop = drop
        self.interval = interval
        self.progress: SyncProgress | None = None
        self.quiet = KnownSet(QUIET_BLOCKS)   # blocks sync imports: not gossiped (geth's downloader does not)
        self.completed = 0               # syncs that reached their target
        self._probed = KnownSet(PROBED_HEADS)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    # -- when -------------------------------------------------------------------------------------------------------
    def trigger(self) -> None:
        """Look for a better peer now (a peer connected)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sync_best()
            except Exception:   # one failed round must not end syncing
                log.exception("sync round failed")

    def our_td(self) -> int:
        chain = self.node.chain
        return chain.chaindb.get_score(chain.head.hash)

    async def sync_best(self) -> bool:
        """Sync from the heaviest peer if it is heavier than us (after the merge: from a peer whose head is higher
        than ours); True if a sync ran to its target."""
        best = self.peers.best()
        if best is not None and best.td > self.our_td():
            return await self.sync_to(best, best.head)
        return await self._sync_past_merge()

    def past_merge(self, td: int) -> bool:
        """Whether a peer announcing total difficulty `td` is compared with us by height rather than by difficulty:
        on a chain with a terminal total difficulty, once we or it reached it, or when it sent none (geth)."""
        terminal = self.node.chain.schedule.terminal_total_difficulty
        if terminal is None or self.node.chain.config.is_parlia:
            return False
        return td == 0 or td >= terminal or self.our_td() >= terminal

    async def _sync_past_merge(self) -> bool:
        chain = self.node.chain
        for state in list(self.peers):
            if not self.past_merge(state.td) or not state.head or chain.header_by_hash(state.head) is not None:
                continue
            probe = state.id.encode() + state.head
            if probe in self._probed:   # a head no higher than ours when asked: not asked again
                continue
            try:
                head = await self._one_header(state, state.head)
            except _PeerHasLess:
                await self._drop(state, MissingHead(f"peer does not serve its head 0x{state.head.hex()}"))
                continue
            except PeerLied as exc:
                await self._drop(state, exc)
                continue
            except (PeerDisconnected, RequestTimeout) as exc:
                log.debug("head of %s not fetched: %s", state.id[:16], exc)
                continue
            if head.block_number > chain.head.block_number:
                return await self.sync_to(state, state.head)
            self._probed.add(probe)
        return False

    # -- how --------------------------------------------------------------------------------------------------------
    async def sync_to(self, state: PeerState, target: bytes) -> bool:
        """Fetch and import the peer's chain up to the block `target`; True if it got there."""
        async with self._lock:
            if self.node.chain.header_by_hash(target) is not None:
                return True
            try:
                await self._sync(state, target)
                self.completed += 1
                return True
            except (PeerLied, ChainError, MissingHead) as exc:
                await self._drop(state, exc)
            except (PeerDisconnected, RequestTimeout, _PeerHasLess) as exc:
                log.debug("sync with %s stopped: %s", state.id[:16], exc)
                if isinstance(exc, _AheadOfClock):   # go on when that block's time comes, not a whole interval later
                    wait = (exc.timestamp * 1000 - self.node.clock.now_ms()) / 1000
                    asyncio.get_running_loop().call_later(min(max(wait, 0.05), self.interval), self._wake.set)
            finally:
                self.progress = None
            return False

    async def _sync(self, state: PeerState, target: bytes) -> None:
        try:
            head = await self._one_header(state, target)
        except _PeerHasLess:
            raise MissingHead(f"peer does not serve its head 0x{target.hex()}") from None
        ancestor = await self._common_ancestor(state, head)
        log.info("syncing from %s: #%d..#%d", state.id[:16], ancestor.block_number + 1, head.block_number)
        self.progress = SyncProgress(self.node.chain.head.block_number, ancestor.block_number, head.block_number)
        batches: asyncio.Queue[list[BlockAPI] | None] = asyncio.Queue()   # bounded by `ahead` (None: no more)
        ahead = asyncio.Semaphore(AHEAD_BATCHES)
        fetcher = asyncio.get_running_loop().create_task(self._fetch(state, ancestor, head, batches, ahead))
        try:
            while (blocks := await batches.get()) is not None:
                await self._import(state, blocks)
                ahead.release()
            await fetcher   # raises why the fetch stopped early, once the batches it completed are in
        finally:
            if not fetcher.done():   # the import failed (or the sync was cancelled): stop asking
                fetcher.cancel()
                with suppress(asyncio.CancelledError):
                    await fetcher

    async def _fetch(self, state: PeerState, ancestor: BlockHeaderAPI, head: BlockHeaderAPI,
                     batches: asyncio.Queue[list[BlockAPI] | None], ahead: asyncio.Semaphore) -> None:
        """Headers from `ancestor` to `head`, each batch checked before its bodies are asked for; the blocks go into
        `batches` in order, then None (also when the fetch fails: `_sync` then raises the failure)."""
        try:
            parent = ancestor
            while parent.block_number < head.block_number:
                amount = min(p.MAX_HEADER_FETCH, head.block_number - parent.block_number)
                answer = await state.peer.request(GetBlockHeaders(0, parent.block_number + 1, amount))
                headers = list(answer.headers)
                if not headers:
                    raise _PeerHasLess(f"no headers from #{parent.block_number + 1}")
                if len(headers) > amount:
                    raise UnexpectedHeaders(f"{len(headers)} headers for a request of {amount}")
                if parent is not ancestor:   # the checks read the chain (its snapshots): the earlier blocks first
                    await _imported(ahead)
                check_headers(headers, parent, self.node.chain.engine)
                start, size = 0, FIRST_BODY_BATCH
                while start < len(headers):
                    await ahead.acquire()
                    batches.put_nowait(await self._bodies(state, headers[start:start + size]))
                    start, size = start + size, min(2 * size, BODY_BATCH)
                parent = headers[-1]
            if parent.hash != head.hash:   # its canonical chain moved off the target (a reorg there): not reached
                raise _PeerHasLess(f"the peer's block #{head.block_number} is no longer 0x{head.hash.hex()}")
        finally:
            batches.put_nowait(None)

    async def _one_header(self, state: PeerState, origin: bytes | int) -> BlockHeaderAPI:
        answer: BlockHeaders = await state.peer.request(GetBlockHeaders(0, origin, 1))
        if not answer.headers:
            raise _PeerHasLess(f"no header {origin if isinstance(origin, int) else '0x' + origin.hex()}")
        header = answer.headers[0]
        if len(answer.headers) != 1 or (header.hash != origin if isinstance(origin, bytes)
                                        else header.block_number != origin):
            raise UnexpectedHeaders(f"asked for one header {origin!r}, got {len(answer.headers)} others")
        return header

    async def _common_ancestor(self, state: PeerState, head: BlockHeaderAPI) -> BlockHeaderAPI:
        """The highest block both chains hold: our head's number first (the usual case), else a binary search
        between genesis (the handshake matched it) and that number."""
        chain = self.node.chain
        high = min(chain.head.block_number, head.block_number)
        header = head if head.block_number == high else await self._one_header(state, high)
        if chain.header_by_hash(header.hash) is not None:
            return header
        low = 0   # known common: genesis
        high -= 1
        while low < high:
            middle = (low + high + 1) // 2
            header = await self._one_header(state, middle)
            if chain.header_by_hash(header.hash) is not None:
                low = middle
            else:
                high = middle - 1
        return chain.header_by_number(low) if low == 0 else await self._known(state, low)

    async def _known(self, state: PeerState, number: int) -> BlockHeaderAPI:
        header = await self._one_header(state, number)
        ours = self.node.chain.header_by_hash(header.hash)
        if ours is None:
            raise UnexpectedHeaders(f"header #{number} changed during the ancestor search")
        return ours

    async def _bodies(self, state: PeerState, headers: list[BlockHeaderAPI]) -> list[BlockAPI]:
        """The blocks of `headers`, bodies asked for until all came (a peer may answer a prefix)."""
        blocks: list[BlockAPI] = []
        while len(blocks) < len(headers):
            wanted = headers[len(blocks):]
            answer = await state.peer.request(GetBlockBodies(0, tuple(h.hash for h in wanted)))
            if not answer.bodies:
                raise _PeerHasLess(f"no bodies from #{wanted[0].block_number}")
            if len(answer.bodies) > len(wanted):
                raise UnexpectedHeaders(f"{len(answer.bodies)} bodies for {len(wanted)} hashes")
            blocks.extend(assemble(self.types, h, b) for h, b in zip(wanted, answer.bodies))
        return blocks

    async def _import(self, state: PeerState, blocks: list[BlockAPI]) -> None:
        for block in blocks:
            state.known_blocks.add(block.hash)
            self.quiet.add(block.hash)
            try:
                await self.importer.import_block(block)
            except ChainError as exc:
                if is_future_block(exc):   # the peer's newest blocks are ahead of our clock: the next round
                    raise _AheadOfClock(str(exc), block.header.timestamp) from exc
                raise InvalidBlock(str(exc)) from exc
            if self.progress is not None:
                self.progress.current = block.number


async def _imported(ahead: asyncio.Semaphore) -> None:
    """Wait until every batch fetched so far is imported (all of `ahead`'s places are free again)."""
    for _ in range(AHEAD_BATCHES):
        await ahead.acquire()
    for _ in range(AHEAD_BATCHES):
        ahead.release()


class _PeerHasLess(Exception):
    """The peer has fewer blocks than it claimed (it may have reorganised): the sync ends, the peer stays."""


class _AheadOfClock(_PeerHasLess):
    """The peer's next block is ahead of our clock: the sync ends, and starts again when the block's time comes."""

    def __init__(self, message: str, timestamp: int) -> None:
        super().__init__(message)
        self.timestamp = timestamp
