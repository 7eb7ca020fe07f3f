"""Why the transaction pool refuses a transaction: one class per rule, each carrying geth's text.

geth builds its messages by wrapping a fixed sentinel with details (`"%w: next nonce %v, tx nonce %v"`), and
clients match on the sentinel. Each class here holds that sentinel as `text`; the optional detail is appended after
a colon the same way, so `str(exc) == exc.message` is exactly what geth (and BSC) would answer. The RPC layer maps
every `TxPoolError` to JSON-RPC code -32000 with `.message`.
"""
from __future__ import annotations


class TxPoolError(Exception):
    """A transaction the pool will not take; `.message` is geth's answer for the same case."""

    text = "transaction rejected"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        self.message = self.text if detail is None else f"{self.text}: {detail}"
        super().__init__(self.message)


# -- decoding (what geth's Transaction.UnmarshalBinary answers) --

class DecodeError(TxPoolError):
    """The raw bytes are not a well-formed transaction (geth prefixes RLP failures with "rlp")."""

    text = "rlp"


class TypedTxTooShort(DecodeError):
    """Empty input, or a type byte with no payload."""

    text = "typed transaction too short"


class TxTypeNotSupported(TxPoolError):
    """An unknown type byte, or a type this pool does not take (blob transactions, type 3)."""

    text = "transaction type not supported"


# -- checks that need no state (geth's txpool.ValidateTransaction) --

class ReplayProtectionRequired(TxPoolError):
    """A legacy transaction signed without EIP-155 chain id (geth refuses these over RPC)."""

    text = "only replay-protected (EIP-155) transactions allowed over RPC"


class OversizedData(TxPoolError):
    """Encoded transaction larger than the pool's size limit."""

    text = "oversized data"


class MaxInitCodeSizeExceeded(TxPoolError):
    """A contract creation whose init code exceeds EIP-3860's limit."""

    text = "max initcode size exceeded"


class GasLimitExceeded(TxPoolError):
    """Transaction gas above the current block gas limit."""

    text = "exceeds block gas limit"


class TipAboveFeeCap(TxPoolError):
    """EIP-1559 fields out of order: priority fee above the fee cap."""

    text = "max priority fee per gas higher than max fee per gas"


class InvalidSender(TxPoolError):
    """Signature values out of range, or no public key can be recovered."""

    text = "invalid sender"


class InvalidChainId(InvalidSender):
    """Signed for another chain (geth reports it as an invalid sender)."""


class NonceMax(TxPoolError):
    """Nonce 2**64-1: the account could never send again (EIP-2681)."""

    text = "nonce has max value"


class IntrinsicGasTooLow(TxPoolError):
    """Gas below the transaction's intrinsic cost."""

    text = "intrinsic gas too low"


class FloorDataGasTooLow(TxPoolError):
    """Gas below the EIP-7623 calldata floor (Prague)."""

    text = "insufficient gas for floor data gas cost"


class Underpriced(TxPoolError):
    """Effective gas price below the pool's minimum."""

    text = "transaction underpriced"


class EmptyAuthorizationList(TxPoolError):
    """A set-code transaction (type 4) without authorizations."""

    text = "set code tx must have at least one authorization tuple"


# -- checks against the head state (geth's txpool.ValidateTransactionWithState) --

class NonceTooLow(TxPoolError):
    """Nonce already used by a mined transaction."""

    text = "nonce too low"


class InsufficientFunds(TxPoolError):
    """Balance below gas * fee cap + value, alone or on top of the sender's pending transactions."""

    text = "insufficient funds for gas * price + value"


# -- the pool's own rules (geth's legacypool) --

class AlreadyKnown(TxPoolError):
    """The very same transaction (same hash) is already pooled."""

    text = "already known"


class ReplacementUnderpriced(TxPoolError):
    """Same sender and nonce as a pooled transaction, without the required fee bump."""

    text = "replacement transaction underpriced"


class AccountLimitExceeded(TxPoolError):
    """The sender already has as many queued (gapped) transactions as one account may."""

    text = "account limit exceeded"


class FutureReplacePending(TxPoolError):
    """A full pool would have to drop an executable transaction to make room for a gapped one."""

    text = "future transaction tries to replace pending"


class TxPoolOverflow(TxPoolError):
    """The pool is full and the newcomer does not pay more than what it would displace."""

    text = "txpool is full"
