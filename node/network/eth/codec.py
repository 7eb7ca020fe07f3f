"""eth messages to (code, RLP payload) and back; every failure is a named EthProtocolError (the peer is dropped)."""
from __future__ import annotations

import rlp
from eth_utils import ValidationError

from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import MESSAGES, Message
from node.network.eth.protocol import InvalidMessage, InvalidMessageCode, MessageTooLarge, MAX_MESSAGE_SIZE


def encode(message: Message) -> tuple[int, bytes]:
    """(code, payload) of `message`."""
    return message.code, rlp.encode(message.items())


def decode(code: int, payload: bytes, types: ChainTypes) -> Message:
    """The message `code` carries in `payload`; raises InvalidMessageCode, MessageTooLarge or InvalidMessage."""
    cls = MESSAGES.get(code)
    if cls is None:
        raise InvalidMessageCode(code)
    if len(payload) > MAX_MESSAGE_SIZE:
        raise MessageTooLarge(len(payload))
    try:
        items = rlp.decode(payload)
        return cls.from_items(items, types)
    except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError, TypeError,
            IndexError) as exc:
        raise InvalidMessage(cls.name, exc) from None
