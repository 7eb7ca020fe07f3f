"""Fast finality over JSON-RPC: `safe`/`finalized` block tags, BSC's eth_getFinalizedHeader/Block and the parlia
namespace, on a dev node before any vote (genesis, as BSC answers) and on a voting Devnet of four validators served
by a real RpcServer (justified and finalized move as the headers' attestations say). Expected numbers are derived
in the test from the headers' extraData by BSC's updateAttestation rule and from the coinbases by BSC's
getFinalizedNumber walk, not read from the engine."""
import asyncio

import aiohttp
import pytest

from consensus import attestation
from node.dev.devnet import Devnet
from rpc.server import RpcServer
from rpcnode import ALICE, BOB, RpcNode, hx, send, serve

EPOCH = 200
VALIDATORS = 4


# -- before any vote: a dev node whose genesis has no vote keys ------------------------------------------------

@pytest.fixture(scope="module")
def dev(served_rpc):
    """A dev node served in-process and by the JSON-RPC front process (conftest's served_rpc)."""
    served_rpc.node.mine(2)
    return served_rpc


def test_before_any_attestation_safe_and_finalized_are_genesis(dev):
    genesis = dev.call("eth_getBlockByNumber", "earliest", False)
    before = dev.call("eth_getBalance", hx(BOB.address), "latest")
    send(dev, ALICE, to=BOB.address, value=10**18)
    dev.node.mine()
    assert int(dev.call("eth_getBalance", hx(BOB.address), "latest"), 16) == int(before, 16) + 10**18
    for tag in ("safe", "finalized"):
        assert dev.call("eth_getBlockByNumber", tag, False)["hash"] == genesis["hash"]
        assert dev.call("eth_getBalance", hx(BOB.address), tag) == dev.call("eth_getBalance", hx(BOB.address),
                                                                              "0x0")
        assert dev.call("eth_getBlockTransactionCountByNumber", tag) == "0x0"
    for method in ("parlia_getJustifiedNumber", "parlia_getFinalizedNumber"):
        assert dev.call(method) == 0 and dev.call(method, "latest") == 0 and dev.call(method, "safe") == 0


def test_finalized_header_with_one_validator_is_the_head(dev):
    head = dev.call("eth_getBlockByNumber", "latest", False)
    for number in (1, -1, -2, -3):   # one sealer: the head is verified by all of them
        header = dev.call("eth_getFinalizedHeader", number)
        assert header["hash"] == head["hash"] and "transactions" not in header
    block = dev.call("eth_getFinalizedBlock", -3, True)
    assert block["hash"] == head["hash"] and all(isinstance(tx, dict) for tx in block["transactions"])


@pytest.mark.parametrize("params, error", [
    ([2], {"code": -32000, "message": "2 neither within the range [1,1] nor the range [-3,-1]"}),
    ([0], {"code": -32000, "message": "0 neither within the range [1,1] nor the range [-3,-1]"}),
    ([-4], {"code": -32000, "message": "-4 neither within the range [1,1] nor the range [-3,-1]"}),
    (["0x1"], {"code": -32602, "message": "invalid argument 0: cannot unmarshal string into int64"}),
    ([1.5], {"code": -32602, "message": "invalid argument 0: cannot unmarshal number 1.5 into int64"}),
    ([True], {"code": -32602, "message": "invalid argument 0: cannot unmarshal bool into int64"}),
    ([2**63], {"code": -32602, "message": f"invalid argument 0: cannot unmarshal number {2**63} into int64"}),
    ([], {"code": -32602, "message": "missing value for required argument 0"}),
])
def test_finalized_header_refusals(dev, params, error):
    assert dev.error("eth_getFinalizedHeader", *params) == error


def test_finalized_block_wants_its_full_flag(dev):
    assert dev.error("eth_getFinalizedBlock", 1) == {"code": -32602,
                                                     "message": "missing value for required argument 1"}


def test_parlia_refuses_pending_and_blocks_it_does_not_have(dev):
    head = int(dev.call("eth_blockNumber"), 16)
    for block in ("pending", hex(head + 1)):
        for method in ("parlia_getJustifiedNumber", "parlia_getFinalizedNumber"):
            assert dev.error(method, block) == {"code": -32000, "message": "unknown block"}


def test_parlia_is_an_optional_module_as_in_bsc():
    with serve(dev=False, produce=False) as r:
        assert r.error("parlia_getJustifiedNumber")["code"] == -32601
        assert r.call("eth_getFinalizedHeader", 1)["number"] == "0x0"   # eth's are always there
    with serve(dev=False, produce=False, http_api=("parlia",)) as r:
        assert r.call("parlia_getJustifiedNumber") == 0


def test_an_ethereum_chain_has_no_parlia_finality(tmp_path):
    from ethchain import head_hash, serve_imported
    with serve_imported(tmp_path) as r:
        assert r.call("eth_getBlockByNumber", "finalized", False)["hash"] == "0x" + head_hash().hex()
        assert r.error("eth_getFinalizedHeader", 1) == {"code": -32000, "message": "only parlia engine supported"}
        r.node.config.http_api += ("parlia",)   # asked for by name, the namespace still needs Parlia
        with RpcServer(r.node, "127.0.0.1", 0) as server:
            assert RpcNode(r.node, server).error("parlia_getJustifiedNumber") == {
                "code": -32000, "message": "the parlia namespace needs a Parlia chain"}


# -- a voting Devnet: four validators with vote keys, node 0 served over HTTP and WebSocket ---------------------

@pytest.fixture(scope="module")
def net():
    with Devnet(validators=VALIDATORS, epoch=EPOCH) as devnet:
        with RpcServer(devnet.nodes[0], "127.0.0.1", 0) as server:
            devnet.rpc = RpcNode(devnet.nodes[0], server)
            devnet.run(8)
            yield devnet


def headers(rpc, upto: int) -> list[dict]:
    return [rpc.call("eth_getBlockByNumber", hex(n), False) for n in range(upto + 1)]


def bsc_finality(chain: list[dict]) -> tuple[int, int]:
    """(justified, finalized) after the last header, by BSC's updateAttestation (Fermi: every attestation counts):
    the first attestation or one whose source + 1 == target justifies its target and finalizes its source; any
    other moves only the justified block."""
    record = None
    for header in chain[1:]:
        number = int(header["number"], 16)
        found = attestation.from_extra(bytes.fromhex(header["extraData"][2:]), epoch_block=number % EPOCH == 0)
        if found is None:
            continue
        if record is not None and found.source_number + 1 != found.target_number:
            record = (found.target_number, record[1])
        else:
            record = (found.target_number, found.source_number)
    return record or (0, 0)


def early_finalized(net, head: dict, justified: int, finalized: int) -> int:
    """BEP-648: a quorum of node 0's pooled votes for the head itself, with the justified parent as source,
    finalizes that parent."""
    if justified != int(head["number"], 16) - 1:
        return finalized
    votes = net.nodes[0].votes.pool.fetch(bytes.fromhex(head["hash"][2:]), justified)
    return justified if len({v.vote_address for v in votes}) >= -(-2 * VALIDATORS // 3) else finalized


def test_justified_and_finalized_move_with_the_attestations(net):
    rpc = net.rpc
    for _ in range(4):
        net.step()
        head = rpc.call("eth_getBlockByNumber", "latest", False)
        number = int(head["number"], 16)
        justified, finalized = bsc_finality(headers(rpc, number))
        assert 0 < finalized < justified < number   # the four vote: attestations every block after warm-up
        assert rpc.call("parlia_getJustifiedNumber") == rpc.call("parlia_getJustifiedNumber", "latest") == justified
        assert rpc.call("parlia_getFinalizedNumber") == finalized
        assert rpc.call("eth_getBlockByNumber", "safe", False) == rpc.call("eth_getBlockByNumber", hex(justified),
                                                                            False)
        tag_finalized = early_finalized(net, head, justified, finalized)
        assert rpc.call("eth_getBlockByNumber", "finalized", False) == \
            rpc.call("eth_getBlockByNumber", hex(tag_finalized), False)
        # every method that takes a block tag reads the same block
        assert rpc.call("eth_getBalance", hx(net.validators[0]), "finalized") == \
            rpc.call("eth_getBalance", hx(net.validators[0]), hex(tag_finalized))
        logs = rpc.call("eth_getLogs", {"fromBlock": "finalized", "toBlock": "safe"})
        assert logs == rpc.call("eth_getLogs", {"fromBlock": hex(tag_finalized), "toBlock": hex(justified)})
        # parlia's own tags: the snapshot at the justified (finalized) block, as BSC's getHeader resolves them
        earlier = bsc_finality(headers(rpc, justified))
        assert rpc.call("parlia_getJustifiedNumber", "safe") == earlier[0]
        assert rpc.call("parlia_getFinalizedNumber", hex(justified)) == earlier[1]


def test_new_heads_and_the_finalized_tag_agree(net):
    rpc = net.rpc

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(rpc.server.ws_url) as ws:
                async def call(method, *params):
                    await ws.send_json({"jsonrpc": "2.0", "id": method, "method": method, "params": list(params)})
                    while True:
                        message = await asyncio.wait_for(ws.receive_json(), 10)
                        if message.get("id") == method:
                            return message["result"]
                        notes.append(message)

                notes: list[dict] = []
                await call("eth_subscribe", "newHeads")
                for _ in range(3):
                    await asyncio.get_running_loop().run_in_executor(None, net.step)
                    while not notes:
                        notes.append(await asyncio.wait_for(ws.receive_json(), 10))
                    announced = notes.pop(0)["params"]["result"]
                    assert await call("eth_getBlockByNumber", "latest", False) == \
                        await call("eth_getBlockByHash", announced["hash"], False)
                    number = int(announced["number"], 16)
                    justified, finalized = bsc_finality(headers(rpc, number))
                    found = await call("eth_getBlockByNumber", "finalized", False)
                    assert int(found["number"], 16) == early_finalized(net, announced, justified, finalized)
                    assert found["hash"] == (await call("eth_getBlockByNumber", found["number"], False))["hash"]

    asyncio.run(main())


def test_new_finalized_headers_report_finality_as_it_moves(net):
    rpc = net.rpc

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(rpc.server.ws_url) as ws:
                await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe",
                                    "params": ["newFinalizedHeaders"]})
                answer = await asyncio.wait_for(ws.receive_json(), 10)
                sub_id = answer["result"]
                start = int(rpc.call("eth_getBlockByNumber", "finalized", False)["number"], 16)
                for _ in range(3):
                    await asyncio.get_running_loop().run_in_executor(None, net.step)
                end = int(rpc.call("eth_getBlockByNumber", "finalized", False)["number"], 16)
                assert end >= start + 3   # every block of the voting net finalizes one more
                # the feed hears blocks: the votes on the head that finalized `end` early (BEP-648) may have come
                # after the head's turn in the feed; the next block's own attestation finalizes `end` anyway
                await asyncio.get_running_loop().run_in_executor(None, net.step)
                reported = []
                while not reported or int(reported[-1]["number"], 16) < end:
                    note = await asyncio.wait_for(ws.receive_json(), 10)
                    assert note["params"]["subscription"] == sub_id
                    reported.append(note["params"]["result"])
                numbers = [int(h["number"], 16) for h in reported]
                # each report a new finalized block, in order; a jump (BEP-648's step made by votes between two
                # blocks) reports only where finality landed, as BSC's feed does
                assert start < numbers[0] and numbers == sorted(set(numbers)) and numbers[-1] >= end
                for header in reported:
                    block = rpc.call("eth_getBlockByNumber", header["number"], False)
                    assert header == {key: block[key] for key in header}
                    assert "transactions" not in header

    asyncio.run(main())


def sealers_walk(chain: list[dict], wanted: int, floor: int) -> int:
    """BSC's getFinalizedNumber: back from the head until `wanted` distinct coinbases, at most 1000 steps, not
    below max(floor, 1); the answer is max(floor, where the walk stopped)."""
    index = len(chain) - 1
    seen = {chain[index]["miner"]}
    steps = 1
    while len(seen) < wanted and steps <= 1000 and index > max(floor, 1):
        index -= 1
        seen.add(chain[index]["miner"])
        steps += 1
    return max(floor, index)


@pytest.fixture(scope="module")
def silent():
    """Four validators without vote keys: nothing is finalized, so the walk alone decides."""
    with Devnet(validators=VALIDATORS, epoch=EPOCH, votes=False) as devnet:
        with RpcServer(devnet.nodes[0], "127.0.0.1", 0) as server:
            devnet.rpc = RpcNode(devnet.nodes[0], server)
            devnet.run(6)
            yield devnet


@pytest.mark.parametrize("verified, wanted", [(1, 1), (2, 2), (3, 3), (4, 4), (-1, 2), (-2, 3), (-3, 4)])
def test_finalized_header_walks_back_to_distinct_sealers(silent, verified, wanted):
    rpc = silent.rpc
    chain = headers(rpc, int(rpc.call("eth_blockNumber"), 16))
    assert rpc.call("eth_getBlockByNumber", "finalized", False)["number"] == "0x0"
    expected = sealers_walk(chain, wanted, 0)
    assert expected == len(chain) - wanted   # in-turn sealers: one new coinbase per block back
    assert int(rpc.call("eth_getFinalizedHeader", verified)["number"], 16) == expected
    assert rpc.call("eth_getFinalizedBlock", verified, False) == rpc.call("eth_getBlockByNumber", hex(expected), False)


def test_finalized_header_never_answers_below_the_finalized_block(net):
    rpc = net.rpc
    net.step()
    chain = headers(rpc, int(rpc.call("eth_blockNumber"), 16))
    floor = int(rpc.call("eth_getBlockByNumber", "finalized", False)["number"], 16)
    assert floor > 0
    for verified, wanted in ((1, 1), (-1, 2), (-3, 4)):
        expected = sealers_walk(chain, wanted, floor)
        assert expected >= floor
        assert int(rpc.call("eth_getFinalizedHeader", verified)["number"], 16) == expected


def test_finalized_header_range_names_the_validator_count(net):
    assert net.rpc.error("eth_getFinalizedHeader", VALIDATORS + 1) == {
        "code": -32000, "message": f"{VALIDATORS + 1} neither within the range [1,{VALIDATORS}] nor the range [-3,-1]"}
