"""The node's identity: a secp256k1 key kept in DATADIR/nodekey (hex, as geth keeps it), and enode URLs.

An enode URL is `enode://<128 hex chars of the public key>@<ip>:<tcp port>[?discport=<udp port>]`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from node.network.rlpx.crypto import check_public_key, keccak256, new_private_key, public_key
from node.network.rlpx.errors import NodeKeyError

NODEKEY_FILE = "nodekey"
ENODE_FILE = "enode"  # our enode URL, for scripts and test harnesses that start nodes


def load_or_create_nodekey(datadir: str | os.PathLike) -> bytes:
    """The 32-byte node key of `datadir`, created (mode 0600) on first use."""
    path = Path(datadir) / NODEKEY_FILE
    if path.exists():
        return read_nodekey(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_private_key()
    # Write a temporary file, then hard-link it into place: a crash never leaves a half-written key, and of two
    # processes starting at once the second finds the first's key instead of replacing it.
    tmp = path.with_name(f".{NODEKEY_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key.hex())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return read_nodekey(path)
    finally:
        tmp.unlink(missing_ok=True)
    return key


def write_enode_file(datadir: str | os.PathLike, url: str) -> Path:
    """Write our enode URL to DATADIR/enode (one line), replacing it whole; returns the path."""
    path = Path(datadir) / ENODE_FILE
    tmp = path.with_name(f".{ENODE_FILE}.{os.getpid()}.tmp")
    tmp.write_text(url + "\n")
    os.replace(tmp, path)
    return path


def read_nodekey(path: str | os.PathLike) -> bytes:
    """A node key file's key; NodeKeyError saying what is wrong."""
    text = Path(path).read_text().strip()
    try:
        key = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise NodeKeyError(f"invalid node key file {path}: not hex") from None
    if len(key) != 32:
        raise NodeKeyError(f"invalid node key file {path}: {len(key)} bytes, want 32")
    try:
        public_key(key)
    except ValueError:
        raise NodeKeyError(f"invalid node key file {path}: not a secp256k1 private key") from None
    return key


@dataclass(frozen=True)
class Enode:
    """A node's address: public key (64 bytes), IP or host name, TCP port, and UDP port if it differs."""

    pubkey: bytes
    host: str
    port: int
    discport: int | None = None

    @property
    def node_id(self) -> bytes:
        """keccak256 of the public key (geth's enode.ID)."""
        return keccak256(self.pubkey)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"enode://{self.pubkey.hex()}@{host}:{self.port}"
        if self.discport is not None and self.discport != self.port:
            url += f"?discport={self.discport}"
        return url

    def __str__(self) -> str:
        return self.url


def enode_url(private_key: bytes, host: str, port: int) -> str:
    """Our own enode URL."""
    return Enode(public_key(private_key), host, port).url


def parse_enode(url: str) -> Enode:
    """Parse an enode URL; NodeKeyError naming what is wrong (geth words: "invalid public key", "missing port")."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise NodeKeyError(f"invalid enode URL {text!r}: {exc}") from None
    if parts.scheme != "enode":
        raise NodeKeyError(f"invalid enode URL {text!r}: want scheme enode://")
    if not parts.username:
        raise NodeKeyError(f"invalid enode URL {text!r}: missing public key")
    try:
        pubkey = bytes.fromhex(parts.username)
        check_public_key(pubkey)
    except ValueError:
        raise NodeKeyError(f"invalid enode URL {text!r}: invalid public key") from None
    if not parts.hostname:
        raise NodeKeyError(f"invalid enode URL {text!r}: missing host")
    if port is None:
        raise NodeKeyError(f"invalid enode URL {text!r}: missing port")
    discport = None
    query = parse_qs(parts.query)
    if "discport" in query:
        try:
            discport = int(query["discport"][0])
        except ValueError:
            raise NodeKeyError(f"invalid enode URL {text!r}: invalid discport") from None
    return Enode(pubkey, parts.hostname, port, discport)
