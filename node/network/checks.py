"""What sync and gossip check of a peer's headers and bodies before they cost an import, as geth's downloader and
block fetcher do: a header batch must link up and pass the engine's standalone rules (fields, seal recovers) before
any body is asked for; a body must match its header's transaction root, uncle hash and withdrawals root.

A failure is a named PeerLied error: the peer sent something no honest peer sends, and is dropped.
"""
from __future__ import annotations

from typing import Any, Sequence

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI
from eth.db.trie import make_trie_root_and_nodes
from eth_utils import keccak

from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import BlockBody


class PeerLied(Exception):
    """A peer's answer that no honest peer gives (the peer is dropped)."""


class UnlinkedHeaders(PeerLied):
    def __init__(self, header: BlockHeaderAPI, parent: BlockHeaderAPI) -> None:
        super().__init__(f"unlinked header: #{header.block_number} (parent 0x{header.parent_hash.hex()[:16]}) does "
                         f"not follow #{parent.block_number} (0x{parent.hash.hex()[:16]})")


class InvalidHeader(PeerLied):
    def __init__(self, header: BlockHeaderAPI, cause: Exception) -> None:
        super().__init__(f"invalid header #{header.block_number} (0x{header.hash.hex()[:16]}): {cause}")
        self.cause = cause


class UnexpectedHeaders(PeerLied):
    """Headers that are not the ones asked for (wrong origin, count or order)."""


class BodyMismatch(PeerLied):
    def __init__(self, header: BlockHeaderAPI, what: str) -> None:
        super().__init__(f"block body does not match header #{header.block_number} (0x{header.hash.hex()[:16]}): "
                         f"{what}")


def check_headers(headers: Sequence[BlockHeaderAPI], parent: BlockHeaderAPI, engine: Any) -> None:
    """`headers` follow `parent` one by one (hash links and numbers), each passing the engine's standalone header
    rules where it has them (Parlia: extraData layout, fields, a seal signed by the coinbase); the first, whose
    parent we hold, passes the engine's full verification (signer in the set, turn, time), without a clock (these
    are past blocks)."""
    standalone = getattr(engine, "check_standalone", None)
    author = getattr(engine, "author", None)   # Parlia: the seal's signer, which must be the coinbase
    previous = parent
    for index, header in enumerate(headers):
        if header.parent_hash != previous.hash or header.block_number != previous.block_number + 1:
            raise UnlinkedHeaders(header, previous)
        try:
            if index == 0:
                engine.verify_header(header, parent, None)
            elif standalone is not None:
                standalone(header)
                if author is not None and author(header) != header.coinbase:
                    raise ValueError(f"signer 0x{author(header).hex()} is not the coinbase 0x{header.coinbase.hex()}")
        except Exception as exc:   # the engine's ConsensusError or py-evm's ValidationError: both mean invalid
            raise InvalidHeader(header, exc) from exc
        previous = header


def check_body(header: BlockHeaderAPI, body: BlockBody) -> None:
    """The body's transactions, uncles and withdrawals hash to the roots `header` commits to."""
    tx_root, _ = make_trie_root_and_nodes(body.transactions)
    if tx_root != header.transaction_root:
        raise BodyMismatch(header, f"transaction root 0x{tx_root.hex()} != 0x{header.transaction_root.hex()}")
    uncles_hash = keccak(rlp.encode([ChainTypes.header_items(u) for u in body.uncles]))
    if uncles_hash != header.uncles_hash:
        raise BodyMismatch(header, f"uncle hash 0x{uncles_hash.hex()} != 0x{header.uncles_hash.hex()}")
    want = getattr(header, "withdrawals_root", None)
    if want is None:
        if body.withdrawals is not None:
            raise BodyMismatch(header, "withdrawals present before Shanghai")
        return
    if body.withdrawals is None:
        raise BodyMismatch(header, "withdrawals missing")
    root, _ = make_trie_root_and_nodes(body.withdrawals)
    if root != want:
        raise BodyMismatch(header, f"withdrawals root 0x{root.hex()} != 0x{want.hex()}")


def assemble(types: ChainTypes, header: BlockHeaderAPI, body: BlockBody) -> BlockAPI:
    """The block of `header` and its matching `body`, in the block class of the header's fork."""
    check_body(header, body)
    items = [ChainTypes.header_items(header)] + body.items()[:3]   # BSC's sidecars are not part of the block
    return types.block_from_items(items)


def check_block(block: BlockAPI) -> None:
    """A whole block from NewBlock: its body matches its header (geth's NewBlock sanity checks)."""
    withdrawals = getattr(block, "withdrawals", None)
    check_body(block.header, BlockBody(tuple(block.transactions), tuple(block.uncles),
                                       None if withdrawals is None else tuple(withdrawals)))
