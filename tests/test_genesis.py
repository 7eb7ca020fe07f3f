"""genesis.json loading: the repository's file, a stable genesis hash, and every malformed case named."""
import copy
import json

import pytest

from node.chain.chain import Chain, GenesisMismatch
from node.config import REPO_GENESIS
from node.chain.db import LmdbDB
from node.chain.genesis import GenesisError, load_genesis, parse_genesis

GENESIS = json.loads(REPO_GENESIS.read_text())
DEV0 = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")


def test_repository_genesis_loads():
    cfg = load_genesis(REPO_GENESIS)
    assert cfg.chain_id == 714
    assert cfg.parlia.period == 1 and cfg.parlia.epoch == 200
    assert cfg.genesis_validators == (DEV0,)
    assert cfg.base_fee_per_gas == 0
    assert len(cfg.alloc) == 10
    assert all(acct.balance == 10_000 * 10**18 for acct in cfg.alloc.values())


def _genesis_hash(path) -> bytes:
    db = LmdbDB(path)
    try:
        return Chain(db, load_genesis(REPO_GENESIS)).head.hash
    finally:
        db.close()


def test_genesis_hash_is_stable(tmp_path):
    first = _genesis_hash(tmp_path / "a")
    assert first == _genesis_hash(tmp_path / "b")
    assert first == _genesis_hash(tmp_path / "a")  # reopening an initialised store


def test_genesis_header_is_bsc_shaped(tmp_path):
    db = LmdbDB(tmp_path)
    head = Chain(db, load_genesis(REPO_GENESIS)).head
    db.close()
    assert head.block_number == 0 and head.difficulty == 1 and head.base_fee_per_gas == 0
    assert head.gas_limit == 40_000_000
    assert head.extra_data[32:52] == DEV0 and len(head.extra_data) == 32 + 20 + 65


def test_other_genesis_on_same_datadir_is_refused(tmp_path):
    _genesis_hash(tmp_path)
    other = copy.deepcopy(GENESIS)
    other["config"]["chainId"] = 715
    db = LmdbDB(tmp_path)
    with pytest.raises(GenesisMismatch):
        Chain(db, parse_genesis(other))
    db.close()


def _mutated(path: str, value):
    data = copy.deepcopy(GENESIS)
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return data


FIRST = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.mark.parametrize("path, value, named", [
    ("config.chainId", KeyError, "config.chainId: missing"),
    ("config.chainId", "0xzz", "config.chainId: bad number"),
    ("config.fooBlock", 0, "config.fooBlock: unknown fork name"),
    ("config.pragueTime", 10**12, "config.pragueTime"),
    ("config.parlia", [], "config.parlia: must be an object"),
    ("config.parlia.epoch", 0, "config.parlia.epoch"),
    ("extraData", "0x1234z", "extraData: bad hex"),
    ("extraData", "0x123", "extraData: bad hex (odd length)"),
    ("extraData", "0x" + "00" * 32 + "11" * 21 + "00" * 65, "extraData: validators part is 21 bytes"),
    ("extraData", "0x" + "00" * 40, "extraData: 40 bytes"),
    ("extraData", "0x" + "00" * 97, "extraData: no validator address"),
    ("gasLimit", "0x10", "gasLimit"),
    ("gasLimit", -5, "gasLimit: negative value"),
    ("baseFeePerGas", "0x1", "baseFeePerGas"),
    (f"alloc.{FIRST}.balance", "-1", f"alloc.{FIRST}.balance: negative value"),
    (f"alloc.{FIRST}.balance", KeyError, f"alloc.{FIRST}.balance: missing"),
    (f"alloc.{FIRST}.code", "0xabc", f"alloc.{FIRST}.code: bad hex"),
    (f"alloc.{FIRST}.storage", {"0x01": "0xnope"}, f"alloc.{FIRST}.storage.0x01: bad number"),
    ("mixHash", "0x00", "mixHash: expected 32 bytes"),
    ("config", KeyError, "config: missing"),
])
def test_malformed_genesis_is_refused_naming_the_field(path, value, named):
    with pytest.raises(GenesisError) as err:
        parse_genesis(_mutated(path, value))
    assert named in str(err.value)


def test_bad_alloc_address_is_named():
    data = copy.deepcopy(GENESIS)
    data["alloc"]["0x1234"] = {"balance": "0x1"}
    with pytest.raises(GenesisError, match="alloc.0x1234: an address is 20 bytes"):
        parse_genesis(data)


def test_unreadable_and_invalid_json(tmp_path):
    with pytest.raises(GenesisError, match="cannot read"):
        load_genesis(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(GenesisError, match="not valid JSON"):
        load_genesis(bad)


def test_init_with_refused_genesis_writes_nothing(tmp_path, capsys):
    from node.cli.main import main
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_mutated("config.chainId", KeyError)))
    datadir = tmp_path / "data"
    assert main(["init", "--genesis", str(bad), "--datadir", str(datadir)]) == 1
    assert "config.chainId: missing" in capsys.readouterr().err
    assert not datadir.exists()


# -- a genesis without Parlia: geth's header rules --

def _ethereum(**top):
    config = {"chainId": 7, "homesteadBlock": 0, "ethash": {}}
    return {"config": {**config, **top.pop("config", {})}, "alloc": {}, **top}


def _header(tmp_path, data):
    db = LmdbDB(tmp_path)
    try:
        return Chain(db, parse_genesis(data)).head
    finally:
        db.close()


def test_geth_defaults_for_an_ethash_genesis(tmp_path):
    head = _header(tmp_path, _ethereum())
    assert head.difficulty == 0x20000          # params.GenesisDifficulty: ethash, no mixHash
    assert head.gas_limit == 4_712_388         # params.GenesisGasLimit
    assert not hasattr(head, "base_fee_per_gas")


def test_difficulty_defaults_to_zero_without_ethash_or_with_a_mix_hash(tmp_path):
    assert parse_genesis({"config": {"chainId": 7}, "alloc": {}}).difficulty == 0
    assert parse_genesis(_ethereum(mixHash="0x" + "11" * 32)).difficulty == 0


def test_london_at_genesis_takes_the_initial_base_fee(tmp_path):
    head = _header(tmp_path / "a", _ethereum(config={"londonBlock": 0, "berlinBlock": 0}))
    assert head.base_fee_per_gas == 10**9      # params.InitialBaseFee
    head = _header(tmp_path / "b", _ethereum(config={"londonBlock": 0}, baseFeePerGas="0x7"))
    assert head.base_fee_per_gas == 7


def test_fork_fields_of_a_prague_genesis(tmp_path):
    forks = {name: 0 for name in ("eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
                                  "constantinopleBlock", "petersburgBlock", "istanbulBlock", "berlinBlock",
                                  "londonBlock", "shanghaiTime", "cancunTime", "pragueTime")}
    head = _header(tmp_path, {"config": {"chainId": 7, "homesteadBlock": 0, "terminalTotalDifficulty": 0,
                                         **forks}, "alloc": {}, "difficulty": "0x0"})
    assert head.difficulty == 0 and head.base_fee_per_gas == 10**9
    assert head.parent_beacon_block_root == b"\0" * 32 and head.excess_blob_gas == 0
    assert head.requests_hash.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_blob_schedule_and_dao_support_are_read():
    cfg = parse_genesis(_ethereum(config={"daoForkBlock": 5, "daoForkSupport": True, "blobSchedule": {
        "cancun": {"target": 3, "max": 6, "baseFeeUpdateFraction": 3338477}}}))
    assert cfg.dao_fork_support is True
    assert cfg.blob_schedule["cancun"].max == 6 and cfg.blob_schedule["cancun"].base_fee_update_fraction == 3338477


@pytest.mark.parametrize("data, named", [
    (_ethereum(number="0x1"), "number: a genesis block is block 0"),
    (_ethereum(parentHash="0x" + "11" * 32), "parentHash"),
    (_ethereum(config={"daoForkSupport": "yes"}), "config.daoForkSupport"),
    (_ethereum(config={"blobSchedule": {"cancun": {"target": 3, "max": 6}}}),
     "config.blobSchedule.cancun.baseFeeUpdateFraction: missing"),
    (_ethereum(config={"depositContractAddress": "0x12"}), "config.depositContractAddress"),
])
def test_malformed_ethereum_genesis_is_refused(data, named):
    with pytest.raises(GenesisError) as err:
        parse_genesis(data)
    assert named in str(err.value)


def test_execution_apis_genesis_hash_is_block_ones_parent(tmp_path):
    """The genesis header exactly as geth builds it: its hash is what the chain's first block names as parent."""
    import rlp
    from conftest import shared_path
    tests = shared_path("conformance", "execution-apis", "tests")
    first = rlp.decode(tests.joinpath("chain.rlp").read_bytes()[:100_000], strict=False)
    parent_hash = first[0][0]
    assert _header(tmp_path, json.loads(tests.joinpath("genesis.json").read_text())).hash == parent_hash
