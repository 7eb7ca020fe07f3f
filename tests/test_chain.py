"""The chain core through an in-process Node: transfers, an ERC-20, receipts, logs, indexes, the import path."""
import pytest
from eth_abi import decode
from eth_keys import keys

from chainkit import GWEI, TRANSFER_TOPIC, calldata, deploy_token_raw, sign, token_balance
from node.chain.chain import ChainError, UnknownAncestor
from node.config import NodeConfig
from node.node import Node


@pytest.fixture
def node(tmp_path):
    with Node(NodeConfig(datadir=tmp_path / "a", produce=False)) as n:
        yield n


@pytest.fixture
def follower(tmp_path):
    with Node(NodeConfig(datadir=tmp_path / "b", produce=False)) as n:
        yield n


def test_value_transfers_balances_receipts_and_indexes(node):
    alice, bob, carol = node.accounts[1:4]  # not account 0: it is the validator and earns the fees
    state = node.chain.state_at()
    before = {a.address: state.get_balance(a.address) for a in (alice, bob, carol)}
    hashes = [node.send_raw_transaction(sign(alice, 0, bob.address, 10**18)),
              node.send_raw_transaction(sign(alice, 1, carol.address, 2 * 10**18, gas_price=2 * GWEI, dynamic=True)),
              node.send_raw_transaction(sign(bob, 0, carol.address, 5))]
    [block] = node.mine()
    assert [tx.hash for tx in block.transactions] == hashes  # alice's nonces in order, ties by arrival
    state = node.chain.state_at()
    assert state.get_balance(alice.address) == before[alice.address] - 3 * 10**18 - 21000 * GWEI - 21000 * 2 * GWEI
    assert state.get_balance(bob.address) == before[bob.address] + 10**18 - 5 - 21000 * GWEI
    assert state.get_balance(carol.address) == before[carol.address] + 2 * 10**18 + 5
    assert state.get_nonce(alice.address) == 2
    receipts = node.chain.receipts(block.header)
    assert [r.gas_used for r in receipts] == [21000, 42000, 63000]
    assert all(r.state_root == b"\x01" for r in receipts)  # status success
    metas = node.chain.store.block_metas(block.hash)
    assert [m.sender for m in metas] == [alice.address, alice.address, bob.address]
    assert [m.gas_used for m in metas] == [21000] * 3
    assert [m.effective_gas_price for m in metas] == [GWEI, 2 * GWEI, GWEI]
    for index, tx_hash in enumerate(hashes):
        loc = node.chain.store.tx_location(tx_hash)
        assert (loc.block_hash, loc.block_number, loc.index) == (block.hash, 1, index)
        assert node.chain.store.mined(tx_hash) == (loc, metas[index])
    for source in ("recent blocks in memory", "the tries in the db"):
        for index in range(3):
            assert node.chain.transaction_at(block.header, index) == block.transactions[index], source
            assert node.chain.receipt_at(block.header, index) == receipts[index], source
        assert node.chain.transaction_at(block.header, 3) is None and node.chain.receipt_at(block.header, 3) is None
        node.chain._recent.clear()
    assert node.pool.status() == (0, 0)


def test_erc20_deploy_and_transfer(node):
    owner, alice, bob = node.accounts[:3]
    node.send_raw_transaction(deploy_token_raw(owner, 0))
    [deploy_block] = node.mine()
    [meta] = node.chain.store.block_metas(deploy_block.hash)
    token = meta.contract_address
    assert token is not None and node.chain.state_at().get_code(token)
    [deploy_receipt] = node.chain.receipts(deploy_block.header)
    assert deploy_receipt.logs[0].topics[0] == int.from_bytes(TRANSFER_TOPIC, "big")

    node.send_raw_transaction(sign(owner, 1, token, data=calldata("transfer(address,uint256)", alice.address, 700),
                                   gas=100_000))
    node.send_raw_transaction(sign(owner, 2, token, data=calldata("transfer(address,uint256)", bob.address, 300),
                                   gas=100_000, dynamic=True))
    [block] = node.mine()
    assert token_balance(node, token, alice.address) == 700
    assert token_balance(node, token, bob.address) == 300
    assert token_balance(node, token, owner.address) == 10**24 - 1000
    receipts = node.chain.receipts(block.header)
    metas = node.chain.store.block_metas(block.hash)
    assert [m.first_log_index for m in metas] == [0, 1]
    for receipt, (to, amount) in zip(receipts, [(alice, 700), (bob, 300)]):
        [log] = receipt.logs
        assert log.address == token
        assert log.topics == (int.from_bytes(TRANSFER_TOPIC, "big"), int.from_bytes(owner.address, "big"),
                              int.from_bytes(to.address, "big"))
        assert decode(["uint256"], log.data) == (amount,)
        assert int.from_bytes(to.address, "big").to_bytes(32, "big") in [t.to_bytes(32, "big") for t in log.topics]
    assert block.header.bloom != 0


def test_follower_imports_blocks_with_same_roots(node, follower):
    owner, alice = node.accounts[:2]
    node.send_raw_transaction(deploy_token_raw(owner, 0))
    blocks = node.mine()
    node.send_raw_transaction(sign(owner, 1, alice.address, 1))
    blocks += node.mine(2)
    for block in blocks:
        result = follower.chain.import_block(block, check_future=False)
        assert not result.known and result.new_canonical[0].hash == block.hash
        assert follower.chain.head.state_root == block.header.state_root
    assert follower.chain.head.hash == node.chain.head.hash
    assert follower.chain.import_block(blocks[-1], check_future=False).known  # re-import is a no-op
    assert follower.chain.store.tx_location(blocks[0].transactions[0].hash).block_number == 1


def _refused(follower, block, error, match, check_future=False):
    head = follower.chain.head
    with pytest.raises(error, match=match):
        follower.chain.import_block(block, check_future=check_future)
    assert follower.chain.head == head
    assert follower.chain.header_by_hash(block.hash) is None
    for tx in block.transactions:
        assert follower.chain.store.tx_location(tx.hash) is None


def _resealed(node, block, key=None, **fields):
    header = block.header.copy(**fields)
    return block.copy(header=node.chain.engine.seal(header, key or node.producer.key))


def test_bad_blocks_are_refused_and_leave_the_store_unchanged(node, follower):
    alice, bob = node.accounts[:2]
    node.send_raw_transaction(sign(alice, 0, bob.address, 1))
    [block] = node.mine()
    outsider = keys.PrivateKey(b"\x07" * 32)
    cases = [
        (_resealed(node, block, outsider, coinbase=outsider.public_key.to_canonical_address()), ChainError,
         "not in the validator set"),
        (_resealed(node, block, outsider), ChainError, "is not the coinbase"),
        (_resealed(node, block, state_root=b"\x11" * 32), ChainError, "state_root|state root"),
        (_resealed(node, block, gas_used=block.header.gas_used + 1), ChainError, "gas"),
        (_resealed(node, block, difficulty=1), ChainError, "difficulty"),
        (_resealed(node, block, timestamp=node.chain.config.timestamp), ChainError, "before parent"),
        (block.copy(header=block.header.copy(extra_data=block.header.extra_data[:-65] + b"\x01" * 64 + b"\x05")), ChainError,
         "signature|seal"),
        (_resealed(node, block, parent_hash=b"\x22" * 32), UnknownAncestor, "unknown ancestor"),
    ]
    for bad, error, match in cases:
        _refused(follower, bad, error, match)
    assert follower.chain.import_block(block, check_future=False).new_canonical  # the genuine block still imports


def test_future_block_is_refused(node, follower):
    [block] = node.mine()
    future = _resealed(node, block, timestamp=follower.clock.now_ms() // 1000 + 30)
    _refused(follower, future, ChainError, "in the future", check_future=True)


@pytest.mark.parametrize("forge, match", [
    (lambda tx: tx, "invalid block 1.*nonce"),                            # alice's nonce 5 is not her next
    (lambda tx: tx.copy(r=5), "invalid block 1.*[Ss]ignature"),         # r recovers no public key
    (lambda tx: tx.copy(r=1), "invalid block 1.*(balance|funds)"),      # recovers to an empty account
])
def test_block_with_an_invalid_transaction_is_refused(node, follower, forge, match):
    alice, bob = node.accounts[:2]
    node.send_raw_transaction(sign(alice, 0, bob.address, 1))
    [block] = node.mine()
    forged_tx = forge(node.chain.vm_class.get_transaction_builder().decode(sign(alice, 5, bob.address, 1)))
    bad = block.copy(transactions=[forged_tx])
    from eth.db.trie import make_trie_root_and_nodes
    bad = _resealed(node, bad, transaction_root=make_trie_root_and_nodes([forged_tx])[0])
    _refused(follower, bad, ChainError, match)
    assert follower.chain.import_block(block, check_future=False).new_canonical


def test_restart_resumes_from_the_stored_head(tmp_path):
    config = NodeConfig(datadir=tmp_path / "d", produce=False)
    with Node(config) as n:
        alice, bob = n.accounts[:2]
        n.send_raw_transaction(sign(alice, 0, bob.address, 10**18))
        n.mine(3)
        head = n.chain.head
    with Node(config) as n:
        assert n.chain.head == head
        assert n.chain.state_at().get_nonce(alice.address) == 1
        assert n.mine()[0].number == 4


def test_an_index_written_by_the_previous_version_is_upgraded_on_open(tmp_path):
    import rlp
    from node.chain.store import TX_LOCATION
    config = NodeConfig(datadir=tmp_path / "d", produce=False)
    with Node(config) as n:
        alice, bob = n.accounts[:2]
        hashes = [n.send_raw_transaction(sign(alice, i, bob.address, 1)) for i in range(2)]
        n.mine(2)
        expected = [n.chain.store.mined(h) for h in hashes]
        with n.chain.db.transaction():   # version 1: a location held only (block hash, number, index)
            for h, (loc, _) in zip(hashes, expected):
                n.chain.db[TX_LOCATION + h] = rlp.encode([loc.block_hash, loc.block_number, loc.index])
            del n.chain.db[b"sc:meta:index-version"]
    with Node(config) as n:
        assert [n.chain.store.mined(h) for h in hashes] == expected
        assert n.chain.store.get_meta("index-version") == b"2"


def test_validator_key_sources(tmp_path):
    from node.node import NodeError
    dev0 = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
    key_hex = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    with pytest.raises(NodeError, match="no validator key"):
        Node(NodeConfig(datadir=tmp_path / "none", dev=False, produce=False)).start()
    (tmp_path / "file").mkdir()
    (tmp_path / "file" / "validator.key").write_text(key_hex + "\n")
    with Node(NodeConfig(datadir=tmp_path / "file", dev=False, produce=False)) as n:
        assert n.producer.address == dev0 and n.accounts == []
        assert n.mine()[0].header.coinbase == dev0
    with Node(NodeConfig(datadir=tmp_path / "flag", dev=False, produce=False,
                         validator_key=bytes.fromhex(key_hex))) as n:
        assert n.producer.address == dev0
    with Node(NodeConfig(datadir=tmp_path / "dev", produce=False)) as n:
        assert n.producer.address == dev0 and len(n.accounts) == 10


def test_transactions_invalid_at_build_time_are_dropped(node, follower, monkeypatch):
    alice, bob = node.accounts[1:3]
    good = node.send_raw_transaction(sign(alice, 0, bob.address, 1))
    gapped = node.send_raw_transaction(sign(bob, 5, alice.address, 1))  # queued: nonce 5, state nonce 0
    assert node.pool.status() == (1, 1)
    # the pool and the state disagree (as after a change the pool has not seen): the builder must skip the tx,
    # and the producer must drop it instead of retrying it in every block
    offered = [node.pool.get(good), node.pool.get(gapped)]
    monkeypatch.setattr(node.pool, "pending_for_block", lambda: offered)
    [block] = node.mine()
    assert [tx.hash for tx in block.transactions] == [good]
    assert node.pool.get(gapped) is None and node.pool.status() == (0, 0)
    follower.chain.import_block(block, check_future=False)  # the skipped tx left no trace in the state root
    assert follower.chain.head.state_root == block.header.state_root


def test_rewind_drops_later_blocks_and_their_indexes_and_the_chain_grows_again(node):
    alice, bob = node.accounts[1:3]
    [kept] = node.mine()
    tx_hash = node.send_raw_transaction(sign(alice, 0, bob.address, 10**18))
    dropped = node.mine(2)
    assert node.chain.store.tx_location(tx_hash) is not None
    removed = node.chain.rewind(kept.header)
    assert [b.hash for b in removed] == [b.hash for b in reversed(dropped)]
    assert node.chain.head == kept.header
    assert node.chain.header_by_number(kept.number + 1) is None
    assert node.chain.store.tx_location(tx_hash) is None
    assert node.chain.state_at().get_nonce(alice.address) == 0
    # the chain grows again from the rewound head with a different block at the dropped height
    other = node.send_raw_transaction(sign(alice, 0, bob.address, 2 * 10**18))
    [again] = node.mine()
    assert again.number == kept.number + 1 and again.hash != dropped[0].hash
    assert node.chain.store.tx_location(other).block_hash == again.hash
    assert node.chain.is_canonical(again.header) and node.chain.head == again.header


def test_a_known_block_that_left_the_chain_is_made_canonical_again_on_import(node):
    [base] = node.mine()
    [child] = node.mine()
    node.chain.rewind(base.header)
    assert not node.chain.is_canonical(child.header)
    result = node.chain.import_block(child, check_future=False)
    assert not result.known and node.chain.head == child.header


def test_rewind_refuses_a_block_off_the_canonical_chain(node):
    [base] = node.mine()
    [child] = node.mine()
    node.chain.rewind(base.header)
    with pytest.raises(ChainError, match="not canonical"):
        node.chain.rewind(child.header)


def test_head_state_edits_show_at_the_head_and_are_written_by_the_next_block(node):
    [base] = node.mine()
    who = b"\x42" * 20
    before = node.chain.state_at()
    assert node.chain.state_at() is before and before.get_balance(who) == 0   # one read state per head, shared
    node.chain.edit_head_state(lambda state: state.set_balance(who, 7))
    assert node.chain.state_at() is not before   # an edit opens a fresh one
    node.chain.edit_head_state(lambda state: state.set_code(who, b"\x60\x00"))
    assert node.chain.head == base.header  # no block for an edit
    assert node.chain.state_at().get_balance(who) == 7
    assert node.chain.state_at(node.chain.header_by_number(0)).get_balance(who) == 0  # older blocks untouched
    [block] = node.mine()
    state = node.chain.state_at(block.header)
    assert state is node.chain.state_at()   # the new head's
    assert (state.get_balance(who), state.get_code(who)) == (7, b"\x60\x00")
    assert state.state_root == block.header.state_root
    node.chain.rewind(base.header)
    assert node.chain.state_at().get_balance(who) == 0  # edits belong to the head they were made on


def test_transactions_that_do_not_fit_the_block_wait_for_the_next_not_dropped(node):
    owner, alice, bob = node.accounts[1:4]
    node.send_raw_transaction(deploy_token_raw(owner, 0))
    [deployed] = node.mine()
    token = node.chain.store.block_metas(deployed.hash)[0].contract_address
    burn = calldata("burnGas(uint256)", 15_000_000)
    # alice: three heavy calls (15M gas each) then a transfer; bob: one transfer. A 40M block holds two heavy ones.
    heavy = [node.send_raw_transaction(sign(alice, n, token, data=burn, gas=16_000_000)) for n in range(3)]
    after = node.send_raw_transaction(sign(alice, 3, bob.address, 1))
    other = node.send_raw_transaction(sign(bob, 0, alice.address, 1))
    [first] = node.mine()
    mined_first = {tx.hash for tx in first.transactions}
    assert heavy[2] not in mined_first and after not in mined_first and other in mined_first
    assert heavy[2] in node.pool and after in node.pool   # kept, not dropped
    [second] = node.mine()
    assert [tx.hash for tx in second.transactions] == [heavy[2], after]
    assert len(node.pool) == 0


def test_no_execution_layer_requests_on_a_parlia_chain(node):
    """BSC runs no EIP-7002/7251 queue calls and parses no deposit logs: requestsHash stays sha256("") even when
    the withdrawal-queue predeploy has code that would answer a request (py-evm's Prague would add it)."""
    import hashlib
    from eth.vm.forks.prague.constants import WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS

    returns_a_word = bytes.fromhex("600160005260206000f3")   # mstore(0, 1); return(0, 32)
    node.chain.edit_head_state(lambda state: state.set_code(WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS, returns_a_word))
    [block] = node.mine()
    assert node.chain.state_at().get_code(WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS) == returns_a_word
    assert block.header.requests_hash == hashlib.sha256(b"").digest()


def test_the_signer_of_our_own_seal_is_known_without_recovering_it(node, monkeypatch):
    from consensus import header as rules
    [block] = node.mine()
    outsider = keys.PrivateKey(b"\x07" * 32)
    engine = node.chain.engine
    sealed = engine.seal(block.header, outsider)
    recovered = []
    monkeypatch.setattr(engine, "_recover", lambda header: recovered.append(header) or b"\x00" * 20)
    assert engine.author(sealed) == outsider.public_key.to_canonical_address()
    assert rules.recover_signer(sealed, node.chain.config.chain_id) == outsider.public_key.to_canonical_address()
    assert recovered == []
    # a header sealed elsewhere is recovered (and then remembered)
    other = block.header.copy(gas_limit=block.header.gas_limit - 1)
    foreign = rules.sign_header(other, outsider, node.chain.config.chain_id)
    assert engine.author(foreign) == b"\x00" * 20 and engine.author(foreign) == b"\x00" * 20
    assert recovered == [foreign]
