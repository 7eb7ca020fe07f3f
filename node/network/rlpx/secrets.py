"""Session secrets derived at the end of the RLPx handshake (devp2p rlpx.md "Initial Handshake")."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.network.rlpx.crypto import ecdh_x, keccak256, keccak_state, xor


@dataclass
class Secrets:
    """What a frame codec needs: the AES and MAC secrets and the two running MAC states, plus who the peer is."""

    aes_secret: bytes
    mac_secret: bytes
    egress_mac: Any  # a running Keccak-256 (update/digest), seeded per the spec
    ingress_mac: Any
    remote_pubkey: bytes  # the peer's static 64-byte public key, authenticated by the handshake


def derive_secrets(*, initiator: bool, ephemeral_key: bytes, remote_ephemeral_pubkey: bytes,
                   initiator_nonce: bytes, recipient_nonce: bytes, auth_packet: bytes, ack_packet: bytes,
                   remote_pubkey: bytes) -> Secrets:
    """The secrets of one side; `auth_packet` and `ack_packet` are the packets as sent (EIP-8 size prefix included)."""
    ephemeral_shared = ecdh_x(ephemeral_key, remote_ephemeral_pubkey)
    shared = keccak256(ephemeral_shared + keccak256(recipient_nonce + initiator_nonce))
    aes_secret = keccak256(ephemeral_shared + shared)
    mac_secret = keccak256(ephemeral_shared + aes_secret)
    # The side that sent auth seeds its egress with (mac ^ recipient nonce) ‖ auth; the other side mirrors it.
    mac_for_auth = keccak_state(xor(mac_secret, recipient_nonce) + auth_packet)
    mac_for_ack = keccak_state(xor(mac_secret, initiator_nonce) + ack_packet)
    if initiator:
        egress, ingress = mac_for_auth, mac_for_ack
    else:
        egress, ingress = mac_for_ack, mac_for_auth
    return Secrets(aes_secret, mac_secret, egress, ingress, remote_pubkey)
