"""A node serving the execution-apis chain (no Parlia), started on a data dir that `import` filled."""
import pytest

from ethchain import head_hash, import_into
from rpcnode import serve


@pytest.fixture(scope="module")
def eth_rpc(tmp_path_factory):
    datadir = import_into(tmp_path_factory.mktemp("ethchain"))
    with serve(datadir=datadir, genesis=datadir / "genesis.json", dev=False, produce=False) as r:
        yield r


def test_head_is_also_safe_and_finalized(eth_rpc):
    """No consensus client says otherwise: after an import the head is safe and finalized."""
    latest = eth_rpc.call("eth_getBlockByNumber", "latest", False)
    assert latest["hash"] == "0x" + head_hash().hex()
    for tag in ("safe", "finalized"):
        assert eth_rpc.call("eth_getBlockByNumber", tag, False)["hash"] == latest["hash"]
    assert eth_rpc.call("eth_blockNumber") == latest["number"]


def test_blocks_of_every_era_are_served(eth_rpc):
    """Proof-of-work blocks keep their uncles and seals, merged ones have difficulty 0 and the fork fields."""
    blocks = [eth_rpc.call("eth_getBlockByNumber", hex(n), False) for n in range(1, 55)]
    assert any(b["uncles"] for b in blocks[:35])
    assert all(int(b["difficulty"], 16) > 0 for b in blocks[:35])
    assert all(b["difficulty"] == "0x0" and b["nonce"] == "0x0000000000000000" for b in blocks[35:])
    assert "baseFeePerGas" not in blocks[25] and "baseFeePerGas" in blocks[26]       # London at 27
    assert "requestsHash" in blocks[-1] and "withdrawalsRoot" in blocks[-1]
    for parent, child in zip(blocks, blocks[1:]):
        assert child["parentHash"] == parent["hash"]
