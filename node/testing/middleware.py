"""web3.py's ValidationMiddleware for a provider that knows its chain id, without asking the node on every request.

web3's stock validation checks the `chainId` of every eth_call, eth_estimateGas, eth_sendTransaction and
eth_createAccessList against `w3.eth.chain_id`, which it asks for (through the whole middleware onion) and composes
the validators anew for on each request and again on its answer: about a third of what web3 spends on a contract
`.call()` in-process. A node's chain id never changes, so the providers here build the same validators once, from
web3's own pieces, and put them where the stock middleware stood. Answers and errors (`Web3ValidationError` for a
wrong `chainId`, `ExtraDataLengthError` for a block with long extraData) are the stock middleware's.
"""
from __future__ import annotations

from typing import Any

from web3.middleware import ValidationMiddleware
from web3.middleware.formatting import FormattingMiddlewareBuilder
from web3.middleware.validation import METHODS_TO_VALIDATE, _build_formatters_dict, _chain_id_validator


def known_chain_validation(chain_id: int) -> Any:
    """A middleware that validates as web3's ValidationMiddleware does on a chain whose id is `chain_id`."""
    # stock web3 only adds the request validators for the methods it validates; keyed by method, they are
    # never applied to any other, so one table serves every request
    formatters = _build_formatters_dict({method: _chain_id_validator(chain_id) for method in METHODS_TO_VALIDATE})

    def sync_builder(w3: Any, method: str) -> dict:
        return formatters

    async def async_builder(w3: Any, method: str) -> dict:
        return formatters

    return FormattingMiddlewareBuilder.build(sync_formatters_builder=sync_builder,
                                             async_formatters_builder=async_builder)


class SwappedOnion:
    """A middleware onion as a provider's request_func reads it, with web3's validation replaced by `validation`."""

    def __init__(self, onion: Any, validation: Any) -> None:
        self.onion = onion
        self.validation = validation

    def as_tuple_of_middleware(self) -> tuple:
        return tuple(self.validation if mw is ValidationMiddleware else mw
                     for mw in self.onion.as_tuple_of_middleware())
