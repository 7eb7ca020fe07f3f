"""eth_subscribe("newFinalizedHeaders"): BSC's feed of each newly finalized header (bsc eth/filters/api.go).

For each new canonical block the feed asks which block is finalized at it (the `finalized` tag's answer, BEP-648's
early step included) and reports that header, in newHeads' JSON, when it is above the last one reported (at the
first block, above the one finalized at its parent): each report is a new finalized block, in order, and a jump
reports only where finality landed, as BSC's feed. Here the feed hears blocks only: a vote that finalizes early
between two blocks is seen with the next block.
"""
from __future__ import annotations

from eth.abc import BlockAPI

from rpc import encode
from rpc.blocks import finality_header
from rpc.subscriptions import HEAD_FIELDS, Feed


class NewFinalizedHeaders(Feed):
    """One subscription's feed; the hub's single thread calls it, so its memory needs no lock."""

    def __init__(self) -> None:
        self.reported: int | None = None   # the number of the last finalized block reported (or met first)

    def on_block(self, node, b: BlockAPI) -> list:
        if self.reported is None:
            parent = node.chain.header_by_hash(b.header.parent_hash)
            self.reported = -1 if parent is None else finality_header(node, "finalized", parent).block_number
        found = finality_header(node, "finalized", b.header)
        if found.block_number <= self.reported:
            return []
        self.reported = found.block_number
        fields = encode.header(found)
        return [{name: fields[name] for name in HEAD_FIELDS if name in fields}]


def new_finalized_headers() -> Feed:
    return NewFinalizedHeaders()
