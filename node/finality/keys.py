"""A validator's BLS vote key in its data dir (`DATADIR/vote.key`, beside `validator.key`): hex of the 32-byte
secret key, one line, readable by its owner only."""
from __future__ import annotations

from pathlib import Path

from consensus import bls

VOTE_KEY_FILE = "vote.key"


class VoteKeyError(ValueError):
    """The vote key file cannot be used; the message names the file and what is wrong."""


def write_vote_key(datadir: Path, secret_key: bytes) -> Path:
    """Write `secret_key` to DATADIR/vote.key (mode 0600); returns the path."""
    bls.public_key(secret_key)  # refuses a key out of range before anything is written
    path = Path(datadir) / VOTE_KEY_FILE
    path.write_text("0x" + secret_key.hex() + "\n")
    path.chmod(0o600)
    return path


def load_vote_key(datadir: Path) -> bytes | None:
    """The secret key in DATADIR/vote.key, or None when there is no such file."""
    path = Path(datadir) / VOTE_KEY_FILE
    if not path.exists():
        return None
    text = path.read_text().strip()
    try:
        secret = bytes.fromhex(text[2:] if text.startswith("0x") else text)
        bls.public_key(secret)
    except (ValueError, bls.BlsError) as exc:
        raise VoteKeyError(f"{path}: want the hex of a 32-byte BLS secret key: {exc}") from None
    return secret
