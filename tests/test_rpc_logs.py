"""eth_getLogs from blooms (rpc/logs.py): blocks whose header bloom cannot match are skipped without reading their
receipts, and the answers are those of decoding every receipt with py-evm, typed transactions and skipped receipts
inside a matching block included."""
from __future__ import annotations

import pytest
from eth_bloom import BloomFilter
from eth_utils import keccak

from chainkit import TRANSFER_TOPIC, calldata, deploy_token_raw, sign
from node.config import NodeConfig
from node.dev.accounts import dev_accounts
from node.node import Node
from rpc import encode, logs
from rpc.params import FilterCriteria, parse_filter
from rpc.registry import Context, methods_for

OWNER, ALICE, BOB, CAROL = dev_accounts()[1:5]


def word(address: bytes) -> bytes:
    return address.rjust(32, b"\0")


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """Blocks: 1 the token; then transfers to ALICE, to BOB, an empty block, value only, and mixed blocks where a
    CAROL transfer (type 2) sits after other transfers; returns (node, token, {block number: recipients})."""
    node = Node(NodeConfig(datadir=tmp_path_factory.mktemp("logs"), block_time=0, produce=False)).start()
    nonce = iter(range(1000))
    node.send_raw_transaction(deploy_token_raw(OWNER, next(nonce)))
    [deployed] = node.mine()
    token = node.chain.store.block_metas(deployed.hash)[0].contract_address

    def pay(to: bytes, dynamic: bool = False) -> None:
        node.send_raw_transaction(sign(OWNER, next(nonce), to=token, data=calldata("transfer(address,uint256)", to, 1),
                                       gas=100_000, dynamic=dynamic))

    plan: dict[int, list[bytes]] = {}
    for recipients in ([ALICE.address], [BOB.address], [], None, [ALICE.address, BOB.address, CAROL.address],
                       [BOB.address], [CAROL.address, ALICE.address], [ALICE.address]):
        if recipients is None:   # a value transfer: a block with a transaction and no logs
            node.send_raw_transaction(sign(OWNER, next(nonce), to=BOB.address, value=5))
            recipients = []
        for to in recipients:
            pay(to, dynamic=to == CAROL.address)
        [b] = node.mine()
        plan[b.number] = recipients
    yield node, token, plan
    node.stop()


def reference(node, crit: FilterCriteria, numbers) -> list[dict]:
    """Every receipt of every block decoded by py-evm, each log checked: what the blooms must not change."""
    out = []
    for n in numbers:
        header = node.chain.header_by_number(n)
        block = node.chain.block_by_header(header)
        log_index = 0
        for tx_index, receipt in enumerate(node.chain.receipts(header)):
            for entry in receipt.logs:
                topics = tuple(t.to_bytes(32, "big") for t in entry.topics)
                if logs.log_matches(bytes(entry.address), topics, crit):
                    out.append(encode.log(header, block.transactions[tx_index].hash, tx_index, log_index, entry))
                log_index += 1
    return out


@pytest.fixture
def receipt_reads(monkeypatch):
    """The block numbers whose receipts eth_getLogs reads (the real read, counted)."""
    read: list[int] = []
    real = logs.read_receipts

    def counted(node, header):
        read.append(header.block_number)
        return real(node, header)
    monkeypatch.setattr(logs, "read_receipts", counted)
    return read


def get_logs(node, criteria: dict) -> list[dict]:
    return methods_for(node)["eth_getLogs"](Context(node, None), [criteria])


def test_blocks_whose_bloom_cannot_match_are_not_read(chain, receipt_reads):
    node, token, plan = chain
    to_carol = {"fromBlock": hex(min(plan)), "toBlock": hex(max(plan)), "address": "0x" + token.hex(),
                "topics": ["0x" + TRANSFER_TOPIC.hex(), None, "0x" + word(CAROL.address).hex()]}
    found = get_logs(node, to_carol)
    holding = sorted(n for n, recipients in plan.items() if CAROL.address in recipients)
    assert len(holding) == 2 and sorted(int(x["blockNumber"], 16) for x in found) == holding
    assert receipt_reads == holding   # ALICE's and BOB's blocks have logs too: their blooms said no
    with_logs = [n for n, recipients in plan.items() if recipients]
    assert set(with_logs) - set(holding)

    receipt_reads.clear()
    assert get_logs(node, {"fromBlock": "0x0", "address": "0x" + (b"\x42" * 20).hex()}) == []
    assert receipt_reads == []
    everything = get_logs(node, {"fromBlock": "0x0"})
    assert len(everything) == sum(len(r) for r in plan.values()) + 1   # and the mint
    assert receipt_reads == [1, *with_logs]   # empty blooms (no logs at all) are never read


@pytest.mark.parametrize("criteria", [
    {},
    {"address": "TOKEN"},
    {"topics": [None, None, "CAROL"]},
    {"topics": [None, None, ["CAROL", "ALICE"]]},
    {"address": ["0x" + "11" * 20, "TOKEN"], "topics": ["TRANSFER", None, "BOB"]},
    {"topics": [None, "OWNER", "ALICE"]},
    {"topics": [[], None, None, None]},   # four positions: a Transfer has three topics
], ids=["all", "address", "carol", "carol-or-alice", "bob", "from-owner-to-alice", "four-topics"])
def test_answers_are_those_of_every_receipt_decoded(chain, criteria):
    node, token, plan = chain
    names = {"TOKEN": token, "CAROL": word(CAROL.address), "ALICE": word(ALICE.address), "BOB": word(BOB.address),
             "OWNER": word(OWNER.address), "TRANSFER": TRANSFER_TOPIC}

    def fill(value):
        if isinstance(value, list):
            return [fill(v) for v in value]
        return "0x" + names[value].hex() if value in names else value
    criteria = {key: fill(value) for key, value in criteria.items()}
    criteria.update(fromBlock="0x0", toBlock="latest")
    crit = parse_filter(criteria)
    head = node.chain.head.block_number
    expected = reference(node, crit, range(0, head + 1))
    assert get_logs(node, criteria) == expected
    if criteria.get("topics") != [[], None, None, None]:
        assert expected, criteria   # each case but the last finds something: the comparison is not vacuous
    by_hash = {k: v for k, v in criteria.items() if k not in ("fromBlock", "toBlock")}
    for n in plan:   # by block hash too
        header = node.chain.header_by_number(n)
        assert get_logs(node, by_hash | {"blockHash": "0x" + header.hash.hex()}) == reference(node, crit, [n])


def test_a_skipped_receipt_still_counts_its_logs(chain):
    node, _, plan = chain
    [mixed] = [n for n, r in plan.items() if r == [ALICE.address, BOB.address, CAROL.address]]
    [found] = get_logs(node, {"blockHash": "0x" + node.chain.header_by_number(mixed).hash.hex(),
                              "topics": [None, None, "0x" + word(CAROL.address).hex()]})
    assert (found["transactionIndex"], found["logIndex"]) == ("0x2", "0x2")
    block = node.chain.block_by_number(mixed)
    assert found["transactionHash"] == "0x" + block.transactions[2].hash.hex()   # the type-2 transfer
    assert block.transactions[2].type_id == 2


def test_transaction_hashes_are_the_keccak_of_trie_values(chain):
    node, _, plan = chain
    for n in plan:
        header = node.chain.header_by_number(n)
        block = node.chain.block_by_header(header)
        assert logs.transaction_hashes(node, header) == [tx.hash for tx in block.transactions]


def test_bloom_query_agrees_with_eth_bloom():
    items = [ALICE.address, keccak(b"x"), word(BOB.address)]
    bloom = BloomFilter()
    for item in items:
        bloom.add(item)
    for probe in [*items, CAROL.address, keccak(b"y")]:
        query = logs.BloomQuery(((logs.bloom_mask(probe),),))
        assert query.may_match(int(bloom)) == (probe in bloom)
    assert not logs.BloomQuery(()).may_match(0)   # no logs at all: nothing to read, even for an empty filter
    assert logs.BloomQuery(()).may_match(int(bloom))
