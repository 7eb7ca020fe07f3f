"""The providers' validation (node/testing/middleware.py): web3's ValidationMiddleware answered from the node's chain
id validates exactly as the stock one, which asks `eth_chainId` before and after every call it checks."""
import asyncio

import pytest
from web3 import AsyncWeb3, Web3
from web3.exceptions import ExtraDataLengthError, Web3ValidationError
from web3.middleware import ExtraDataToPOAMiddleware, Web3Middleware
from web3.providers.async_base import AsyncBaseProvider
from web3.providers.base import JSONBaseProvider

from node.config import NodeConfig
from node.node import Node
from node.testing.provider import AsyncSmartchainProvider, SmartchainProvider


class StockProvider(SmartchainProvider):
    """The same provider with web3's own middleware onion, as before."""

    request_func = JSONBaseProvider.request_func
    batch_request_func = JSONBaseProvider.batch_request_func


class AsyncStockProvider(AsyncSmartchainProvider):
    request_func = AsyncBaseProvider.request_func
    batch_request_func = AsyncBaseProvider.batch_request_func


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with Node(NodeConfig(datadir=tmp_path_factory.mktemp("mw"), block_time=0)) as node:
        yield node


def spied(provider) -> list[str]:
    """The methods `provider` is asked from now on."""
    asked: list[str] = []
    rpc = provider.rpc
    answer = rpc.answer_call

    def spy(message):
        asked.append(message["method"])
        return answer(message)

    rpc.answer_call = spy
    return asked


def outcome(fn):
    try:
        return "ok", fn()
    except Exception as exc:   # compared side by side: the type and text of whatever web3 raised
        return type(exc).__name__, str(exc)


def test_validation_is_the_stock_one_without_asking_the_chain_id(node):
    ours, stock = Web3(SmartchainProvider(node)), Web3(StockProvider(node))
    for w3 in (ours, stock):
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    owner, alice = node.accounts[0].address, node.accounts[1].address
    requests = [
        lambda w3: w3.eth.call({"to": alice, "data": "0x"}),
        lambda w3: w3.eth.call({"to": alice, "data": "0x", "chainId": 714}),
        lambda w3: w3.eth.call({"to": alice, "data": "0x", "chainId": 1}),
        lambda w3: w3.eth.call({"to": alice, "data": "0x", "chainId": "0x1"}),
        lambda w3: w3.eth.estimate_gas({"from": owner, "to": alice, "value": 1, "chainId": 1}),
        lambda w3: w3.eth.estimate_gas({"from": owner, "to": alice, "value": 1}),
        lambda w3: w3.eth.create_access_list({"from": owner, "to": alice, "chainId": 1}),
        lambda w3: w3.eth.send_transaction({"from": owner, "to": alice, "value": 1, "chainId": 5}),
    ]
    asked_ours, asked_stock = spied(ours.provider), spied(stock.provider)
    answers = [outcome(lambda: request(ours)) for request in requests]
    assert answers == [outcome(lambda: request(stock)) for request in requests]
    assert [a[0] for a in answers] == ["ok", "ok", "Web3ValidationError", "Web3ValidationError",
                                       "Web3ValidationError", "ok", "Web3ValidationError", "Web3ValidationError"]
    assert "The transaction declared chain ID 1, but the connected node is on 714" in answers[2][1]
    assert "eth_chainId" not in asked_ours and asked_stock.count("eth_chainId") >= 7


def test_middleware_the_user_adds_still_runs(node):
    w3 = Web3(SmartchainProvider(node))
    seen = []
    with pytest.raises(ExtraDataLengthError):   # Parlia's extraData: the stock result check refuses it
        w3.eth.get_block("latest")
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    assert w3.eth.get_block("latest").number == node.chain.head.block_number
    class Recorder(Web3Middleware):
        def request_processor(self, method, params):
            seen.append(method)
            return method, params

    w3.middleware_onion.add(Recorder, "recorder")
    w3.eth.call({"to": node.accounts[1].address})
    assert seen == ["eth_call"]
    with pytest.raises(Web3ValidationError):
        w3.eth.call({"to": node.accounts[1].address, "chainId": 2})


def test_the_async_provider_validates_the_same(node):
    async def run():
        ours, stock = AsyncWeb3(AsyncSmartchainProvider(node)), AsyncWeb3(AsyncStockProvider(node))
        answers = []
        for w3 in (ours, stock):
            side = []
            for tx in ({"to": node.accounts[1].address}, {"to": node.accounts[1].address, "chainId": 9}):
                try:
                    side.append(("ok", await w3.eth.call(tx)))
                except Exception as exc:
                    side.append((type(exc).__name__, str(exc)))
            answers.append(side)
        await ours.provider.disconnect()
        await stock.provider.disconnect()
        return answers

    ours, stock = asyncio.run(run())
    assert ours == stock and [a[0] for a in ours] == ["ok", "Web3ValidationError"]
