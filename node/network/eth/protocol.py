"""eth/68 as BSC runs it: the version, message codes, limits and the errors a bad message raises.

Codes are relative to the eth capability's offset (0x10 when eth is the only shared capability; the connection adds
the offset). Values from bsc/eth/protocols/eth/protocol.go, handler.go and geth's eth/downloader, as collected in
../shared/reference/devp2p.md sections 9 and 12.
"""
from __future__ import annotations

PROTOCOL_NAME = "eth"
ETH68 = 68
PROTOCOL_LENGTH = 17          # message ids eth/68 reserves (0x00..0x10)

STATUS = 0x00
NEW_BLOCK_HASHES = 0x01
TRANSACTIONS = 0x02
GET_BLOCK_HEADERS = 0x03
BLOCK_HEADERS = 0x04
GET_BLOCK_BODIES = 0x05
BLOCK_BODIES = 0x06
NEW_BLOCK = 0x07
NEW_POOLED_TRANSACTION_HASHES = 0x08
GET_POOLED_TRANSACTIONS = 0x09
POOLED_TRANSACTIONS = 0x0a
UPGRADE_STATUS = 0x0b         # BSC only: sent right after Status
GET_RECEIPTS = 0x0f
RECEIPTS = 0x10

# Message size: geth's maxMessageSize; larger messages end the connection.
MAX_MESSAGE_SIZE = 10 * 1024 * 1024
# What a server puts in one response: it stops adding items past the soft size or the count (geth's
# softResponseLimit, maxHeadersServe, maxBodiesServe, maxReceiptsServe; BSC's are the same).
SOFT_RESPONSE_LIMIT = 2 * 1024 * 1024
MAX_HEADERS_SERVE = 1024
MAX_BODIES_SERVE = 1024
MAX_RECEIPTS_SERVE = 1024
# What a syncing client asks for per request (geth's downloader: MaxHeaderFetch, MaxBlockFetch, MaxReceiptFetch).
MAX_HEADER_FETCH = 192
MAX_BLOCK_FETCH = 128
MAX_RECEIPT_FETCH = 256
# Transaction gossip (geth/BSC eth/handler.go, eth/fetcher/tx_fetcher.go).
MAX_ANNOUNCED_HASHES = 5000           # per NewPooledTransactionHashes message; more is a flood
MAX_POOLED_TRANSACTIONS_REQUEST = 256  # hashes per GetPooledTransactions a client sends
MAX_TX_BROADCAST_SIZE = 4096          # larger transactions are only announced, never sent whole
# Status checks: the first eth message within this many seconds, then UpgradeStatus within as many again.
HANDSHAKE_TIMEOUT = 5.0
MAX_TD_BITS = 100                     # BSC refuses a Status or NewBlock whose total difficulty is longer


class EthProtocolError(Exception):
    """A message that breaks the eth protocol: the peer is disconnected (geth: subprotocol error)."""


class InvalidMessageCode(EthProtocolError):
    def __init__(self, code: int) -> None:
        super().__init__(f"invalid message code: {code:#x}")
        self.code = code


class MessageTooLarge(EthProtocolError):
    def __init__(self, size: int, limit: int = MAX_MESSAGE_SIZE) -> None:
        super().__init__(f"message too long: {size} > {limit}")
        self.size = size


class InvalidMessage(EthProtocolError):
    """A message whose RLP does not decode to its packet (geth's errDecode, "invalid message")."""

    def __init__(self, name: str, detail: object) -> None:
        super().__init__(f"invalid message: {name}: {detail}")
        self.name = name
