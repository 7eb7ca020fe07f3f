"""web3.py's own share of a test's work: the same contract calls on a `w3` whose provider answers at once, with the
answers the real node gave (recorded per method), so whatever time is left is web3.py's (ABI encoding, request and
result formatters, middleware, receipt waiting) and no backend could go below it.

The `testing` section reports it next to both backends: eth-tester's time divided by this floor is the ratio a
backend answering in no time at all would reach, the ceiling of any in-process provider driven through web3.py.
"""
from __future__ import annotations

from typing import Any

from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.base import JSONBaseProvider

from node.testing.middleware import SwappedOnion, known_chain_validation
from node.testing.provider import SmartchainProvider


class RecordingProvider(SmartchainProvider):
    """The plugin's provider, keeping the last answer it gave to each method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: dict[str, dict] = {}

    def make_request(self, method, params):
        answer = super().make_request(method, params)
        self.answers[method] = answer
        return answer


class ReplayProvider(JSONBaseProvider):
    """Answers each method with a recorded answer, at once; web3's validation answered from the chain id as by
    the plugin's provider, so the two differ only in the backend."""

    def __init__(self, answers: dict[str, dict], chain_id: int) -> None:
        super().__init__()
        self.answers = dict(answers)
        self.validation = known_chain_validation(chain_id)

    def request_func(self, w3: Any, middleware_onion: Any) -> Any:
        return super().request_func(w3, SwappedOnion(middleware_onion, self.validation))

    def make_request(self, method, params):
        return self.answers[method]


def replaying_w3(recorded: RecordingProvider, chain_id: int) -> Web3:
    """A `w3` set up as the plugin's (PoA middleware injected) over the recorded answers."""
    w3 = Web3(ReplayProvider(recorded.answers, chain_id))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3
