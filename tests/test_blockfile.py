"""smartchain export / import: round trip, re-import is a no-op, bad files refused, a bad block stops the import."""
import rlp
import pytest

from chainkit import deploy_token_raw, sign
from node.cli import main
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
    assert "importing: 6/6 blocks (100%)" in out.err
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
