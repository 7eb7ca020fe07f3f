"""Blocks into the node off the event loop: one worker thread runs `Node.import_block` for sync and gossip in
turn, so the loop keeps answering pings and requests during a long import, and blocks go in in the order given."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from eth.abc import BlockAPI


class Importer:
    """`await importer.import_block(block)` runs the node's single import path in the import thread."""

    def __init__(self, import_block: Callable[[BlockAPI], Any], name: str = "import") -> None:
        self._import_block = import_block
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.imported = 0

    async def import_block(self, block: BlockAPI) -> Any:
        """The node's ImportResult; raises what the node raises (ChainError and its kinds)."""
        result = await asyncio.get_running_loop().run_in_executor(self._executor, self._import_block, block)
        self.imported += 1
        return result

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Any other blocking call on the node, in the same thread (after the imports queued before it)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
