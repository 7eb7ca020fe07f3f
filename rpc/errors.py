"""JSON-RPC errors: one class per kind, each carrying its code, and the one place where node errors become RPC errors.

Handlers raise `RpcError` subclasses for what the RPC layer itself refuses (bad params, unknown method); the node
raises its own domain exceptions (`TxPoolError`, `ExecutionReverted`, ...), which `to_rpc_error` translates with
geth's codes and messages. Anything else is a bug: it is logged with its traceback and answered -32603 without
internals.
"""
from __future__ import annotations

import logging

from node.dev.devtools import DevError
from node.execution.calls import ExecutionError, ExecutionReverted
from node.txpool.errors import TxPoolError

log = logging.getLogger("smartchain.rpc")


class RpcError(Exception):
    """An error answer: `{"code": code, "message": message, "data": data}` (data omitted when None)."""

    code = -32000

    def __init__(self, message: str, data: str | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code

    def to_json(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


# -- JSON-RPC 2.0 protocol errors --

class ParseError(RpcError):
    """The body is not JSON (answered with id null)."""

    code = -32700


class ServerShuttingDown(RpcError):
    """The node behind the JSON-RPC front process has stopped; the front answers this until it exits."""

    def __init__(self):
        super().__init__("server is shutting down")


class InvalidRequest(RpcError):
    """Not a request object: wrong version, bad id, empty or oversize batch."""

    code = -32600


class MethodNotFound(RpcError):
    code = -32601

    def __init__(self, method: str):
        super().__init__(f"the method {method} does not exist/is not available")


class InvalidParams(RpcError):
    """Wrong parameter count or a parameter that does not parse; the message names the argument as geth does."""

    code = -32602


class InternalError(RpcError):
    code = -32603


# -- answers of the eth namespace --

class ServerError(RpcError):
    """geth's default code for an error without its own: -32000 with the message."""

    code = -32000


class HeaderNotFound(ServerError):
    """A state read at a block this node does not have."""

    def __init__(self, message: str = "header not found"):
        super().__init__(message)


class ExecutionRevertedError(RpcError):
    """REVERT in eth_call / eth_estimateGas: code 3, `execution reverted[: reason]`, the raw revert bytes as data."""

    code = 3

    def __init__(self, data: bytes, reason: str | None = None):
        message = "execution reverted" + (f": {reason}" if reason is not None else "")
        super().__init__(message, "0x" + data.hex())


def to_rpc_error(exc: BaseException) -> RpcError:
    """The answer for an exception raised while handling a call."""
    if isinstance(exc, RpcError):
        return exc
    if isinstance(exc, TxPoolError):
        return ServerError(exc.message)
    if isinstance(exc, ExecutionReverted):
        return ExecutionRevertedError(exc.data, exc.reason)
    if isinstance(exc, (ExecutionError, DevError)):
        return ServerError(str(exc))
    log.error("internal error handling an RPC call", exc_info=exc)
    return InternalError("internal error")
