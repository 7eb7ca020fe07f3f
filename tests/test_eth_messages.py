"""eth/68 messages: EIP-2481's golden encodings byte for byte, BSC's UpgradeStatus and NewBlock extras, every message
round-tripping over our own chain's py-evm objects, and the named errors of bad messages."""
import rlp
import pytest

from ethkit import chain_node, every_message
from node.chain.forks import ForkSchedule
from node.chain.genesis import parse_genesis
from node.network.eth import codec, protocol as p
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.messages import (MESSAGES, BlockBodies, BlockBody, BlockHeaders, GetBlockBodies,
                                       GetBlockHeaders, GetPooledTransactions, GetReceipts, NewBlock,
                                       NewPooledTransactionHashes, PooledTransactions, Receipts, Status,
                                       Transactions, UpgradeStatus)
from node.network.forkid import ForkId

DEADC0DE = bytes(28) + bytes.fromhex("deadc0de")
FEEDBEEF = bytes(28) + bytes.fromhex("feedbeef")
# EIP-2481's test cases (the eth/66 request-id forms geth tests against); their header is a Frontier-era one
# (15 fields), their transactions legacy EIP-155 ones, their receipt a pre-EIP-658-typed one
ZERO32 = "a0" + "00" * 32
HEADER = ("f901f9" + ZERO32 * 2 + "94" + "00" * 20 + ZERO32 * 3 + "b90100" + "00" * 256
          + "8208ae820d0582115c8215b3821a0a827788" + ZERO32 + "88" + "00" * 8)
TXS = ("f8d2f867088504a817c8088302e2489435353535353535353535353535353535353535358202008025a064b1702d9298fee62dfeccc5"
       "7d322a463ad55ca201256d01f62b45b2e1c21c12a064b1702d9298fee62dfeccc57d322a463ad55ca201256d01f62b45b2e1c21c10f8"
       "67098504a817c809830334509435353535353535353535353535353535353535358202d98025a052f8f61201b2b11a78d6e866abc9c3"
       "db2ae8631fa656bfe5cb53668255367afba052f8f61201b2b11a78d6e866abc9c3db2ae8631fa656bfe5cb53668255367afb")
TWO_HASHES = "f847820457f842" + "a0" + DEADC0DE.hex() + "a0" + FEEDBEEF.hex()
EIP2481 = [
    (GetBlockHeaders, "e8820457e4a000000000000000000000000000000000000000000000000000000000deadc0de050580"),
    (GetBlockHeaders, "ca820457c682270f050580"),
    (BlockHeaders, "f90202820457f901fc" + HEADER),
    (GetBlockBodies, TWO_HASHES),
    (BlockBodies, "f902dc820457f902d6f902d3" + TXS + "f901fc" + HEADER),
    (GetReceipts, TWO_HASHES),
    (Receipts, "f90172820457f9016cf90169f901668001b90100" + "00" * 256 + "f85ff85d94000000000000000000000000000000000"
               "0000011f842a0000000000000000000000000000000000000000000000000000000000000deada000000000000000000000000"
               "0000000000000000000000000000000000000beef830100ff"),
    (GetPooledTransactions, TWO_HASHES),
    (PooledTransactions, "f8d7820457" + TXS),
]


@pytest.fixture(scope="module")
def frontier_types():
    """Mainnet's early forks: the EIP's header (block 3333) is a Frontier one."""
    config = parse_genesis({"config": {"chainId": 1, "homesteadBlock": 1150000}, "alloc": {}})
    return ChainTypes(ForkSchedule.from_config(config))


@pytest.mark.parametrize("cls, encoded", EIP2481, ids=[f"{c.name}-{i}" for i, (c, _) in enumerate(EIP2481)])
def test_eip2481_golden_encodings(cls, encoded, frontier_types):
    payload = bytes.fromhex(encoded)
    message = codec.decode(cls.code, payload, frontier_types)
    assert type(message) is cls and message.request_id == 1111
    assert codec.encode(message) == (cls.code, payload)


def test_eip2481_decoded_values(frontier_types):
    by_hash = codec.decode(p.GET_BLOCK_HEADERS, bytes.fromhex(EIP2481[0][1]), frontier_types)
    assert by_hash == GetBlockHeaders(1111, DEADC0DE, 5, 5, False)
    assert codec.decode(p.GET_BLOCK_HEADERS, bytes.fromhex(EIP2481[1][1]), frontier_types) \
        == GetBlockHeaders(1111, 9999, 5, 5, False)
    [header] = codec.decode(p.BLOCK_HEADERS, bytes.fromhex(EIP2481[2][1]), frontier_types).headers
    assert (header.block_number, header.difficulty, header.extra_data) == (0xd05, 0x8ae, b"\x77\x88")
    assert header.hash.hex() == "8c2f2af15b7b563b6ab1e09bed0e9caade7ed730aec98b70a993597a797579a9"   # the EIP's
    [body] = codec.decode(p.BLOCK_BODIES, bytes.fromhex(EIP2481[4][1]), frontier_types).bodies
    assert [tx.hash.hex() for tx in body.transactions] == [
        "588df025c4c2d757d3e314bd3dfbfe352687324e6b8557ad1731585e96928aed",
        "f39c7dac06a9f3abf09faf5e30439a349d3717611b3ed337cd52b0d192bc72da"]
    assert body.uncles == (header,) and body.withdrawals is None
    [[receipt]] = codec.decode(p.RECEIPTS, bytes.fromhex(EIP2481[6][1]), frontier_types).receipts
    assert (receipt.state_root, receipt.gas_used, receipt.logs[0].data) == (b"", 1, b"\x01\x00\xff")
    assert codec.decode(p.GET_RECEIPTS, bytes.fromhex(EIP2481[5][1]), frontier_types).hashes == (DEADC0DE, FEEDBEEF)


def test_bsc_upgrade_status_encodings(frontier_types):
    assert codec.encode(UpgradeStatus()) == (0x0b, bytes.fromhex("c2c180"))      # BSC's default packet
    assert codec.encode(UpgradeStatus(True)) == (0x0b, bytes.fromhex("c2c101"))
    assert codec.decode(0x0b, bytes.fromhex("c2c101"), frontier_types) == UpgradeStatus(True)
    # a nil extension (Go's `rlp:"nil"`: an empty string or list) means BSC's defaults
    assert codec.decode(0x0b, bytes.fromhex("c180"), frontier_types) == UpgradeStatus(False)
    assert codec.decode(0x0b, bytes.fromhex("c1c0"), frontier_types) == UpgradeStatus(False)
    with pytest.raises(p.InvalidMessage, match="UpgradeStatus: disablePeerTxBroadcast: invalid boolean"):
        codec.decode(0x0b, bytes.fromhex("c2c102"), frontier_types)


def test_status_encoding_by_hand(frontier_types):
    status = Status(68, 714, 0x8ae, DEADC0DE, FEEDBEEF, ForkId(bytes.fromhex("deadbeef"), 0xBADDCAFE))
    fork = bytes.fromhex("ca84deadbeef84baddcafe")                    # EIP-2124's own fork id example
    body = bytes.fromhex("44" "8202ca" "8208ae") + b"\xa0" + DEADC0DE + b"\xa0" + FEEDBEEF + fork
    assert codec.encode(status) == (0, bytes([0xf8, len(body)]) + body)
    assert codec.decode(0, bytes([0xf8, len(body)]) + body, frontier_types) == status


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    with chain_node(tmp_path_factory.mktemp("chain")) as n:
        yield n


@pytest.mark.parametrize("make_types", [lambda chain: ChainTypes.for_chain(chain),
                                        lambda chain: ChainTypes.for_config(chain.config)],
                         ids=["for_chain", "for_config"])
def test_every_message_round_trips_over_our_chain(node, make_types):
    types = make_types(node.chain)
    messages = every_message(node.chain)
    assert {type(m) for m in messages} == set(MESSAGES.values())
    for message in messages:
        code, payload = codec.encode(message)
        assert code == message.code
        decoded = codec.decode(code, payload, types)
        assert decoded == message, message.name
        assert codec.encode(decoded) == (code, payload), message.name


def test_our_blocks_keep_their_hashes_and_transaction_types(node):
    types = ChainTypes.for_chain(node.chain)
    block = node.chain.block_by_number(1)
    assert [tx.type_id for tx in block.transactions] == [None, 2, 1]   # legacy, EIP-1559, EIP-2930
    new_block = codec.decode(*codec.encode(NewBlock(block, 3)), types)
    assert type(new_block.block) is type(block) and new_block.block.hash == block.hash
    assert rlp.encode(new_block.block) == rlp.encode(block)   # the block as `smartchain export` writes it
    # on the wire: legacy transactions as lists, typed ones as `type || payload` byte strings
    items = rlp.decode(codec.encode(Transactions(tuple(block.transactions)))[1])
    assert isinstance(items[0], list) and items[1][:1] == b"\x02" and items[2][:1] == b"\x01"
    body = BlockBody.of(block)
    assert body.withdrawals == () and rlp.decode(rlp.encode(body.items()))[2] == []   # Shanghai+: withdrawals []


def test_bsc_optional_fields_are_trailing(node):
    block = node.chain.block_by_number(1)
    plain = rlp.decode(codec.encode(NewBlock(block, 5))[1])
    assert len(plain) == 2   # no optional field set: none written
    # an access list without sidecars: sidecars written as an empty list before it (Go's rlp:"optional")
    with_bal = rlp.decode(codec.encode(NewBlock(block, 5, access_list=[b"\x07"]))[1])
    assert with_bal[2:] == [[], [b"\x07"]]


@pytest.mark.parametrize("code, payload, error, match", [
    (0x0c, b"\xc0", p.InvalidMessageCode, "invalid message code: 0xc"),
    (0x11, b"\xc0", p.InvalidMessageCode, "invalid message code: 0x11"),
    (p.GET_BLOCK_HEADERS, rlp.encode([1111, [bytes(range(1, 11)), 5, 5, b""]]), p.InvalidMessage,
     "invalid input size 10 for origin"),
    (p.GET_BLOCK_BODIES, bytes.fromhex("c6820457c28001"), p.InvalidMessage, "expected a 32-byte hash"),
    (p.STATUS, bytes.fromhex("c3010203"), p.InvalidMessage, "status: expected at least 6 items"),
    (p.TRANSACTIONS, bytes.fromhex("c281ff"), p.InvalidMessage, "Transactions"),
    (p.BLOCK_HEADERS, bytes.fromhex("c7820457c3c20102"), p.InvalidMessage, "BlockHeaders"),
    (p.GET_RECEIPTS, bytes.fromhex("c5820457"), p.InvalidMessage, "GetReceipts"),   # truncated
    (p.GET_RECEIPTS, rlp.encode([2**64, []]), p.InvalidMessage, "request id: .* 64 bits"),
    (p.NEW_POOLED_TRANSACTION_HASHES, rlp.encode([b"\x02", [1], []]), p.InvalidMessage,
     "invalid len of fields"),
    (p.STATUS, b"\xc0" + b"\x00" * p.MAX_MESSAGE_SIZE, p.MessageTooLarge, "message too long"),
])
def test_bad_messages_raise_named_errors(code, payload, error, match, node):
    with pytest.raises(error, match=match):
        codec.decode(code, payload, ChainTypes.for_chain(node.chain))


def test_new_block_sanity_bounds(node):
    types = ChainTypes.for_chain(node.chain)
    block = node.chain.block_by_number(1)
    codec.decode(*codec.encode(NewBlock(block, 2**100 - 1)), types)   # at the bound: accepted
    with pytest.raises(p.InvalidMessage, match="NewBlock: too large block TD: bitlen 101"):
        codec.decode(*codec.encode(NewBlock(block, 2**100)), types)
    bloated = block.copy(header=block.header.copy(extra_data=b"\0" * (100 * 1024 + 1)))
    with pytest.raises(p.InvalidMessage, match="too large block extradata: size 102401"):
        codec.decode(*codec.encode(NewBlock(bloated, 3)), types)
    hard = block.copy(header=block.header.copy(difficulty=2**80))
    with pytest.raises(p.InvalidMessage, match="too large block difficulty: bitlen 81"):
        codec.decode(*codec.encode(NewBlock(hard, 3)), types)


def test_too_many_announced_hashes(node):
    hashes = tuple(i.to_bytes(32, "big") for i in range(p.MAX_ANNOUNCED_HASHES + 1))
    flood = NewPooledTransactionHashes(bytes(len(hashes)), (100,) * len(hashes), hashes)
    with pytest.raises(p.InvalidMessage, match="5001 hashes announced"):
        codec.decode(*codec.encode(flood), ChainTypes.for_chain(node.chain))
