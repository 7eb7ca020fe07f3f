"""The `p2p` capability's messages: Hello (EIP-8 vector), Disconnect in both forms, capability offsets; node keys."""
from __future__ import annotations

import os

import pytest
import rlp

from node.network.rlpx.crypto import keccak256, new_private_key, public_key
from node.network.rlpx.errors import NodeKeyError, ProtocolError
from node.network.rlpx.nodekey import (Enode, enode_url, load_or_create_nodekey, parse_enode, read_nodekey,
                                      write_enode_file)
from node.network.rlpx.p2p import (
    Capability,
    DisconnectReason,
    Hello,
    SharedCapability,
    check_node_id,
    decode_disconnect,
    encode_disconnect,
    match_capabilities,
    reason_text,
)

# EIP-8 "devp2p Base Protocol": a Hello with a higher version and additional list elements.
EIP8_HELLO = bytes.fromhex(
    "f87137916b6e6574682f76302e39312f706c616e39cdc5836574683dc6846d6f726b1682270fb840"
    "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc803e52ab2cd55d5569"
    "bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877c883666f6f836261720304")


def test_eip8_hello_vector_decodes_ignoring_extra_elements() -> None:
    hello = Hello.decode(EIP8_HELLO)
    assert hello.version == 0x37
    assert hello.client_id == "kneth/v0.91/plan9"
    assert hello.capabilities == (("eth", 61), ("mork", 22))
    assert hello.listen_port == 9999
    assert hello.node_id.hex().startswith("fda1cff674c90c9a") and len(hello.node_id) == 64


def test_hello_round_trip_sorts_capabilities() -> None:
    node_id = public_key(new_private_key())
    hello = Hello("smartchain/test", (("snap", 1), ("eth", 68), ("bsc", 3)), node_id)
    decoded = Hello.decode(hello.encode())
    assert decoded.capabilities == (("bsc", 3), ("eth", 68), ("snap", 1))
    assert (decoded.version, decoded.client_id, decoded.node_id, decoded.listen_port) == (
        5, "smartchain/test", node_id, 0)


@pytest.mark.parametrize("payload", [b"\x80", rlp.encode([5, b"x"]), rlp.encode([5, b"x", [[b"eth"]], 0, b""])])
def test_malformed_hello_refused(payload: bytes) -> None:
    with pytest.raises(ProtocolError, match="invalid Hello"):
        Hello.decode(payload)


def test_node_id_rules() -> None:
    check_node_id(b"\x01" * 64)
    for bad in (bytes(64), b"\x01" * 63):
        with pytest.raises(ProtocolError, match="invalid node identity"):
            check_node_id(bad)


def test_disconnect_list_and_bare_forms() -> None:
    assert encode_disconnect(DisconnectReason.TOO_MANY_PEERS) == b"\xc1\x04"
    assert decode_disconnect(b"\xc1\x04") == DisconnectReason.TOO_MANY_PEERS
    assert decode_disconnect(b"\x04") == DisconnectReason.TOO_MANY_PEERS  # legacy bare integer
    assert decode_disconnect(b"\xc1\x80") == DisconnectReason.REQUESTED
    assert decode_disconnect(b"\x80") == DisconnectReason.REQUESTED
    assert decode_disconnect(b"\xc0") == DisconnectReason.REQUESTED
    assert decode_disconnect(b"\xc1\x10") == DisconnectReason.SUBPROTOCOL_ERROR
    assert decode_disconnect(b"\x20") == 0x20
    assert reason_text(0x20) == "unknown disconnect reason 32"
    assert reason_text(DisconnectReason.USELESS_PEER) == "useless peer"
    assert DisconnectReason.SELF.text == "connected to self"
    with pytest.raises(ProtocolError):
        decode_disconnect(b"\xc2\xc1\x01")


def test_capability_offsets_as_geth_assigns_them() -> None:
    ours = [Capability("eth", 68, 17), Capability("bsc", 3, 4), Capability("snap", 1, 8), Capability("bsc", 1, 2)]
    bsc_peer = (("eth", 68), ("bsc", 1), ("bsc", 3), ("snap", 1))
    assert match_capabilities(ours, bsc_peer) == [
        SharedCapability("bsc", 3, 0x10, 4), SharedCapability("eth", 68, 0x14, 17), SharedCapability("snap", 1, 0x25, 8)]
    assert match_capabilities(ours, (("eth", 68), ("eth", 69))) == [SharedCapability("eth", 68, 0x10, 17)]
    assert match_capabilities(ours, (("eth", 69), ("les", 4))) == []


def test_nodekey_created_once_and_kept(tmp_path) -> None:
    key = load_or_create_nodekey(tmp_path / "data")
    path = tmp_path / "data" / "nodekey"
    assert len(key) == 32 and path.read_text() == key.hex()
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_or_create_nodekey(tmp_path / "data") == key
    assert list((tmp_path / "data").iterdir()) == [path]  # no temporary file left behind
    path.write_text("zz")
    with pytest.raises(NodeKeyError, match="not hex"):
        read_nodekey(path)
    path.write_text("00" * 31)
    with pytest.raises(NodeKeyError, match="31 bytes"):
        read_nodekey(path)


def test_enode_url_round_trip(tmp_path) -> None:
    key = new_private_key()
    url = enode_url(key, "127.0.0.1", 30311)
    assert url == f"enode://{public_key(key).hex()}@127.0.0.1:30311"
    enode = parse_enode(url)
    assert enode == Enode(public_key(key), "127.0.0.1", 30311)
    assert enode.node_id == keccak256(public_key(key))
    assert parse_enode(write_enode_file(tmp_path, url).read_text()) == enode
    with_disc = parse_enode(url + "?discport=30301")
    assert with_disc.discport == 30301 and with_disc.url == url + "?discport=30301"


@pytest.mark.parametrize("url, why", [
    ("http://" + "ab" * 64 + "@1.2.3.4:1", "scheme"),
    ("enode://1.2.3.4:30303", "missing public key"),
    ("enode://" + "ab" * 64 + "@1.2.3.4:30303", "invalid public key"),  # not a curve point
    ("enode://" + "00" * 63 + "@1.2.3.4:30303", "invalid public key"),
])
def test_bad_enode_urls(url: str, why: str) -> None:
    with pytest.raises(NodeKeyError, match=why):
        parse_enode(url)


def test_enode_missing_port() -> None:
    pub = public_key(new_private_key()).hex()
    with pytest.raises(NodeKeyError, match="missing port"):
        parse_enode(f"enode://{pub}@1.2.3.4")


def test_hello_with_zero_byte_port_is_accepted() -> None:
    """@ethereumjs/devp2p encodes listen port 0 as 0x00 (a non-canonical integer): read it, do not refuse."""
    node_id = public_key(new_private_key())
    payload = rlp.encode([5, b"ethereumjs-devp2p", [[b"eth", 68]], b"\x00", node_id])
    hello = Hello.decode(payload)
    assert hello.listen_port == 0 and hello.capabilities == (("eth", 68),)
