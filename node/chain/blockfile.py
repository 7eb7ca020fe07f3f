"""Block files as geth's `export`/`import` read and write them: RLP-encoded blocks, concatenated.

Import decodes the whole file before writing anything, so a truncated or corrupt file is refused with nothing
written; each block then takes the chain's single import path in its own write transaction, and the first invalid
block stops the import with its number and reason, leaving the store at the last good block.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TextIO

import rlp
from eth.abc import BlockAPI
from eth.vm.forks.prague.blocks import PragueBackwardsHeader
from rlp.codec import consume_length_prefix

from node.chain.chain import Chain, ChainError


class BlockFileError(ChainError):
    """A block file that cannot be read as concatenated RLP blocks."""


@dataclass
class ImportSummary:
    blocks: int = 0          # newly imported
    known: int = 0           # already in the store (re-imports are no-ops)
    transactions: int = 0
    seconds: float = 0.0

    @property
    def blocks_per_second(self) -> float:
        return self.blocks / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        return (f"imported {self.blocks} blocks ({self.transactions} txs) in {self.seconds:.2f} s, "
                f"{self.blocks_per_second:.1f} blocks/s; {self.known} already known")


def split_blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, encoded block) for each top-level RLP item; refuses trailing bytes and non-list items."""
    offset = 0
    while offset < len(data):
        try:
            _, kind, length, start = consume_length_prefix(data, offset)
        except Exception as exc:
            raise BlockFileError(f"corrupt block file: bad RLP prefix at byte {offset}: {exc}") from None
        if kind is not list:
            raise BlockFileError(f"corrupt block file: item at byte {offset} is not an RLP list (not a block)")
        end = start + length
        if end > len(data):
            raise BlockFileError(
                f"truncated block file: the block at byte {offset} needs {end - offset} bytes, "
                f"only {len(data) - offset} remain")
        yield offset, data[offset:end]
        offset = end


def decode_block(chain: Chain, encoded: bytes) -> BlockAPI:
    """One RLP block, read with the block class of the fork its header belongs to."""
    items = rlp.decode(encoded)
    if not isinstance(items, list) or not items or not isinstance(items[0], list):
        raise rlp.DecodingError("a block is a list whose first item is the header", encoded)
    header = PragueBackwardsHeader.deserialize(items[0])
    return rlp.decode(encoded, sedes=chain.vm_class_for(header).get_block_class())


def decode_blocks(chain: Chain, data: bytes) -> list[BlockAPI]:
    blocks = []
    for offset, encoded in split_blocks(data):
        try:
            blocks.append(decode_block(chain, encoded))
        except Exception as exc:
            raise BlockFileError(f"corrupt block file: cannot decode the block at byte {offset}: {exc}") from None
    return blocks


def progress_line(done: int, total: int, head: int, width: int = 30) -> str:
    """`importing [#####.....] 27/54 blocks (50%), head #27`"""
    filled = done * width // total if total else width
    return (f"importing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} blocks "
            f"({done * 100 // total if total else 100}%), head #{head}")


def import_file(chain: Chain, path: str | Path, progress: TextIO | None | bool = True,
                clock: Callable[[], float] = time.perf_counter) -> ImportSummary:
    """Import every block of `path`; raises ChainError (with the block number) at the first bad block.

    Progress goes to stderr (progress=True), another stream, or nowhere (None).
    """
    if progress is True:
        progress = sys.stderr
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BlockFileError(f"cannot read {path}: {exc.strerror}") from None
    blocks = decode_blocks(chain, data)
    summary = ImportSummary()
    started = last_report = clock()
    for index, block in enumerate(blocks):
        if block.number == 0:
            if block.hash != chain.genesis_hash:
                raise ChainError(f"block 0 of {path} is another chain's genesis (0x{block.hash.hex()})")
            summary.known += 1
            continue
        # a file is trusted history: blocks are checked by every rule except "not in the future"
        result = chain.import_block(block, check_future=False)
        if result.known:
            summary.known += 1
        else:
            summary.blocks += 1
            summary.transactions += len(block.transactions)
        now = clock()
        if progress is not None and (now - last_report >= 1.0 or index + 1 == len(blocks)):
            last_report = now
            progress.write(f"\r{progress_line(index + 1, len(blocks), chain.head.block_number)}")
            progress.flush()
    if progress is not None and blocks:
        progress.write("\n")
    summary.seconds = clock() - started
    return summary


def export_file(chain: Chain, path: str | Path, first: int = 0, last: int | None = None) -> int:
    """Write canonical blocks first..last (default: to the head) to `path`; returns how many."""
    head = chain.head.block_number
    last = head if last is None else last
    if first < 0 or last < first:
        raise ChainError(f"bad block range {first}..{last}")
    if last > head:
        raise ChainError(f"block {last} is beyond the head #{head}")
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as out:
        for number in range(first, last + 1):
            out.write(rlp.encode(chain.block_by_number(number)))
    tmp.replace(path)
    return last - first + 1
