"""smartchain export / import: round trip, re-import is a no-op, bad files refused, a bad block stops the import."""
import rlp
import pytest

from chainkit import deploy_token_raw, sign
from node.cli.main import main
from node.config import NodeConfig
from node.node import Node


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 6-block chain (genesis + 5) exported with `smartchain export`."""
    base = tmp_path_factory.mktemp("export")
    with Node(NodeConfig(datadir=base / "src", produce=False)) as node:
        owner, alice = node.accounts[:2]
        node.send_raw_transaction(deploy_token_raw(owner, 0))
        node.mine()
        for nonce in range(1, 5):
            node.send_raw_transaction(sign(owner, nonce, alice.address, nonce))
            node.mine()
        head = node.chain.head
        blocks = [node.chain.block_by_number(n) for n in range(6)]
    path = base / "chain.rlp"
    assert main(["export", "--datadir", str(base / "src"), str(path)]) == 0
    return path, head, blocks


def _import(datadir, path, capsys):
    code = main(["import", "--datadir", str(datadir), str(path)])
    return code, capsys.readouterr()


def _head(datadir):
    with Node(NodeConfig(datadir=datadir, produce=False)) as node:
        return node.chain.head


def test_export_then_import_gives_the_same_head(exported, tmp_path, capsys):
    path, head, _ = exported
    code, out = _import(tmp_path / "dst", path, capsys)
    assert code == 0, out.err
    assert "imported 5 blocks (5 txs)" in out.out and "1 already known" in out.out
    assert "6/6 blocks (100%), head #5" in out.err
    assert _head(tmp_path / "dst") == head
    code, out = _import(tmp_path / "dst", path, capsys)  # again: nothing new
    assert code == 0 and "imported 0 blocks (0 txs)" in out.out and "6 already known" in out.out
    assert _head(tmp_path / "dst") == head


def test_export_range(exported, tmp_path, capsys):
    path, _, blocks = exported
    src = path.parent / "src"
    part = tmp_path / "part.rlp"
    assert main(["export", "--datadir", str(src), str(part), "2", "3"]) == 0
    assert part.read_bytes() == rlp.encode(blocks[2]) + rlp.encode(blocks[3])
    assert main(["export", "--datadir", str(src), str(part), "4", "99"]) == 1
    assert "beyond the head" in capsys.readouterr().err


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-10], "truncated block file"),
    (lambda data: data + b"\x05", "is not an RLP list"),
    (lambda data: data[:3] + b"\x80" + data[4:], "corrupt block file: cannot decode the block at byte 0"),
    (lambda data: data[:100] + b"\xff\xff" + data[102:], "is another chain's genesis"),
])
def test_damaged_file_is_refused_and_nothing_is_written(exported, tmp_path, capsys, damage, message):
    path, _, _ = exported
    bad = tmp_path / "bad.rlp"
    bad.write_bytes(damage(path.read_bytes()))
    code, out = _import(tmp_path / "dst", bad, capsys)
    assert code == 1 and message in out.err
    assert _head(tmp_path / "dst").block_number == 0


def test_bad_block_stops_the_import_at_the_last_good_block(exported, tmp_path, capsys):
    path, _, blocks = exported
    forged = blocks[3].copy(header=blocks[3].header.copy(state_root=b"\x11" * 32))
    bad = tmp_path / "bad.rlp"
    bad.write_bytes(b"".join(rlp.encode(b) for b in blocks[:3] + [forged] + blocks[4:]))
    code, out = _import(tmp_path / "dst", bad, capsys)
    assert code == 1
    assert "invalid block 3" in out.err and "the store is at block #2" in out.err
    assert _head(tmp_path / "dst") == blocks[2].header


# -- a chain without Parlia: the execution-apis test chain, proof of work to Prague and beyond --

from ethchain import chain_file, genesis_file, head_hash  # noqa: E402
from node.chain.blockfile import decode_blocks, split_blocks  # noqa: E402
from node.chain.chain import Chain  # noqa: E402
from node.chain.db import LmdbDB  # noqa: E402
from node.chain.genesis import load_genesis  # noqa: E402
from node.node import DB_DIR  # noqa: E402


def _open(datadir):
    db = LmdbDB(datadir / DB_DIR)
    return db, Chain(db, load_genesis(datadir / "genesis.json"))


def _file_blocks(tmp_path):
    db = LmdbDB(tmp_path / "decoder")
    try:
        return decode_blocks(Chain(db, load_genesis(genesis_file())), chain_file().read_bytes())
    finally:
        db.close()


def _init(datadir, capsys):
    assert main(["init", "--genesis", str(genesis_file()), "--datadir", str(datadir)]) == 0
    capsys.readouterr()


def test_import_of_the_execution_apis_chain_reaches_its_head(tmp_path, capsys):
    """smartchain init + import: 54 blocks, head hash and state root equal to the chain's own."""
    blocks = _file_blocks(tmp_path)
    _init(tmp_path / "d", capsys)
    code, out = _import(tmp_path / "d", chain_file(), capsys)
    assert code == 0, out.err
    txs = sum(len(b.transactions) for b in blocks)
    assert f"imported 54 blocks ({txs} txs)" in out.out and "blocks/s" in out.out
    assert "importing [" + "#" * 30 + "] 54/54 blocks (100%), head #54" in out.err
    db, chain = _open(tmp_path / "d")
    try:
        assert chain.head.block_number == 54
        assert chain.head.hash == head_hash() == blocks[-1].hash
        assert chain.head.state_root == blocks[-1].header.state_root
        # the state under that root is there to read: every sender's nonce is its transaction count
        senders = {}
        for b in blocks:
            for tx in b.transactions:
                senders[tx.sender] = max(senders.get(tx.sender, 0), tx.nonce + 1)
        state = chain.state_at()
        assert all(state.get_nonce(sender) == nonce for sender, nonce in senders.items())
    finally:
        db.close()
    code, out = _import(tmp_path / "d", chain_file(), capsys)   # again: a no-op
    assert code == 0 and "imported 0 blocks (0 txs)" in out.out and "54 already known" in out.out


def test_export_gives_back_the_file_and_imports_into_a_fresh_dir(tmp_path, capsys):
    _init(tmp_path / "a", capsys)
    assert _import(tmp_path / "a", chain_file(), capsys)[0] == 0
    exported = tmp_path / "out.rlp"
    assert main(["export", "--datadir", str(tmp_path / "a"), str(exported), "1"]) == 0
    assert exported.read_bytes() == chain_file().read_bytes()   # geth's own export of the same blocks
    assert main(["export", "--datadir", str(tmp_path / "a"), str(exported)]) == 0   # with the genesis
    _init(tmp_path / "b", capsys)
    code, out = _import(tmp_path / "b", exported, capsys)
    assert code == 0 and "imported 54 blocks" in out.out and "1 already known" in out.out
    db, chain = _open(tmp_path / "b")
    try:
        assert chain.head.hash == head_hash()
    finally:
        db.close()


def _last_block_at(data):
    return list(split_blocks(data))[-1][0]


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:-1], "truncated block file"),
    # the last block's list prefix made a string's: the file is refused before block 1 is written
    (lambda data: data[:_last_block_at(data)] + b"\xb9" + data[_last_block_at(data) + 1:], "corrupt block file"),
])
def test_damaged_execution_apis_file_writes_nothing(tmp_path, capsys, damage, message):
    _init(tmp_path / "d", capsys)
    bad = tmp_path / "bad.rlp"
    bad.write_bytes(damage(chain_file().read_bytes()))
    code, out = _import(tmp_path / "d", bad, capsys)
    assert code == 1 and message in out.err
    db, chain = _open(tmp_path / "d")
    try:
        assert chain.head.block_number == 0
    finally:
        db.close()


@pytest.mark.parametrize("number, forge, reason", [
    (20, {"state_root": b"\x11" * 32}, "state_root"),            # proof of work era
    (20, {"difficulty": 0x20001}, "invalid difficulty"),
    (40, {"gas_used": 1}, "gas"),                                # after the merge
])
def test_bad_block_of_an_ethereum_chain_stops_the_import(tmp_path, capsys, number, forge, reason):
    blocks = _file_blocks(tmp_path)
    forged = blocks[number - 1].copy(header=blocks[number - 1].header.copy(**forge))
    bad = tmp_path / "bad.rlp"
    bad.write_bytes(b"".join(rlp.encode(b) for b in blocks[:number - 1] + [forged] + blocks[number:]))
    _init(tmp_path / "d", capsys)
    code, out = _import(tmp_path / "d", bad, capsys)
    assert code == 1
    assert f"invalid block {number}" in out.err and reason in out.err.lower()
    assert f"the store is at block #{number - 1}" in out.err
