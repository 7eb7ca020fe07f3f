"""genesis.json loading: the repository's file, a stable genesis hash, and every malformed case named."""
import copy
import json

import pytest

from node.chain import Chain, GenesisMismatch
from node.config import REPO_GENESIS
from node.db import LmdbDB
from node.genesis import GenesisError, load_genesis, parse_genesis

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
    from node.cli import main
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_mutated("config.chainId", KeyError)))
    datadir = tmp_path / "data"
    assert main(["init", "--genesis", str(bad), "--datadir", str(datadir)]) == 1
    assert "config.chainId: missing" in capsys.readouterr().err
    assert not datadir.exists()
