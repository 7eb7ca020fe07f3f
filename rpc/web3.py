"""The web3 namespace: client version and keccak."""
from __future__ import annotations

from eth_utils import keccak

from rpc import encode
from rpc.params import Data

CLIENT_VERSION = "smartchain/v0.1.0/python"


def client_version(node) -> str:
    return CLIENT_VERSION


def sha3(node, value: Data) -> str:
    return encode.data(keccak(value))
