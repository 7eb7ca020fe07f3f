"""node/statedb.py and Chain.build_block's one header update per block: the blocks built are the blocks py-evm's own
AccountDB and per-transaction header copies build, byte for byte (state roots, receipts, blooms, hashes), through
accounts created, emptied and deleted, storage set and zeroed, and reverts; and every VM the node runs uses the
batched account db."""
import json

import pytest
import rlp
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.rlp.accounts import Account
from eth_utils import keccak, to_checksum_address

from node.chain import evmchain, forks
from chainkit import calldata, deploy_token_raw, sign
from node.dev.accounts import dev_accounts
from node.clock import SimClock
from node.config import REPO_GENESIS, NodeConfig
from node.chain.forks import ForkSchedule
from node.chain.genesis import load_genesis
from node.node import Node
from node.chain.statedb import BatchedAccountDB

START_MS = 1_900_000_000_000


class _NotByzantium:
    add_receipt_to_header = None


def _sharing_first_byte(address: bytes, tag: bytes) -> bytes:
    """An address whose hashed key starts with the same byte as `address`'s: the two sit alone under one branch
    of the account trie, so deleting one collapses that branch into the other's leaf."""
    target = keccak(address)[0]
    for i in range(100_000):
        candidate = keccak(tag + i.to_bytes(4, "big"))[:20]
        if keccak(candidate)[0] == target:
            return candidate
    raise AssertionError("no address found")


def _genesis(tmp_path, empty: bytes):
    genesis = json.loads(REPO_GENESIS.read_text())
    genesis["alloc"][to_checksum_address(empty)] = {"balance": "0x0"}   # an empty account stored in the state
    path = tmp_path / "genesis.json"
    path.write_text(json.dumps(genesis))
    return path


def _run(datadir, genesis) -> tuple[list, list, type]:
    """The scenario's blocks, their receipts and the account db class the state used."""
    with Node(NodeConfig(datadir=datadir, genesis=genesis, produce=False), clock=SimClock(START_MS)) as node:
        owner, alice, bob = node.accounts[1:4]   # not account 0: the validator, whose fees vary with gas
        empty = _sharing_first_byte(alice.address, b"empty")
        fresh = [keccak(b"fresh" + bytes([i]))[:20] for i in range(30)]
        send = node.send_raw_transaction
        blocks = []

        # an ERC-20 deployed; value transfers that create accounts
        send(deploy_token_raw(owner, 0))
        for i, to in enumerate(fresh[:20]):
            send(sign(bob, i, to, 10**15 + i))
        blocks += node.mine()
        token = node.chain.store.block_metas(blocks[-1].hash)[0].contract_address

        def transfer(account, nonce, to, amount):
            return sign(account, nonce, token, data=calldata("transfer(address,uint256)", to, amount), gas=100_000)

        # token balances set; EIP-161: a 0-value call touches the stored empty account, which is deleted
        send(transfer(owner, 1, alice.address, 700))
        send(transfer(owner, 2, fresh[0], 5))
        send(sign(bob, 20, empty, 0))
        # a contract created and self-destructed in one transaction (CALLER SELFDESTRUCT as init code)
        send(sign(bob, 21, None, 123, data=bytes.fromhex("33ff"), gas=100_000))
        blocks += node.mine()

        # alice's whole balance moves: her storage slot goes back to zero (deleted from the storage trie); then a
        # transfer she cannot cover reverts; more accounts appear
        send(transfer(alice, 0, bob.address, 700))
        send(transfer(alice, 1, bob.address, 1))
        for i, to in enumerate(fresh[20:]):
            send(sign(bob, 22 + i, to, 1))
        blocks += node.mine()

        # the stored slots read back and changed again, one zeroed
        send(transfer(bob, 32, fresh[0], 700))
        send(transfer(owner, 3, bob.address, 9))
        blocks += node.mine()

        assert [len(block.transactions) for block in blocks] == [21, 4, 12, 2]   # nothing was rejected
        assert node.chain.state_at(node.chain.header_by_number(0)).account_exists(empty)
        state = node.chain.state_at()
        assert not state.account_exists(empty)
        receipts = [node.chain.receipts(block.header) for block in blocks]
        return blocks, receipts, type(state._account_db)


def test_same_blocks_as_py_evms_account_db(tmp_path, monkeypatch):
    genesis = _genesis(tmp_path, _sharing_first_byte(dev_accounts()[2].address, b"empty"))

    ours, our_receipts, our_class = _run(tmp_path / "ours", genesis)
    with monkeypatch.context() as patch:
        patch.setattr(forks, "BatchedAccountDB", AccountDB)   # the account db the node configures on its VMs
        # and build_block's header made by py-evm's add_receipt_to_header after each transaction (the path kept for
        # VMs before Byzantium) instead of one header update per block
        patch.setattr(evmchain, "ByzantiumVM", _NotByzantium)
        stock, stock_receipts, stock_class = _run(tmp_path / "stock", genesis)
    assert (our_class, stock_class) == (BatchedAccountDB, AccountDB)

    assert len(ours) == len(stock) == 4
    for mine, theirs in zip(ours, stock):
        assert mine.header.state_root == theirs.header.state_root
        assert mine.header.receipt_root == theirs.header.receipt_root
        assert mine.hash == theirs.hash
    assert our_receipts == stock_receipts

    # and the import path (batched account db, one header per block) re-executes py-evm's blocks to the same result
    with Node(NodeConfig(datadir=tmp_path / "follower", genesis=genesis, produce=False),
              clock=SimClock(START_MS + 60_000)) as follower:
        for block in stock:
            assert not follower.chain.import_block(block).known
        assert follower.chain.head.hash == stock[-1].hash
        assert [follower.chain.receipts(block.header) for block in stock] == stock_receipts
    statuses = [receipt.state_root for receipt in our_receipts[2]]
    assert statuses[:2] == [b"\x01", b""]   # the covered transfer succeeded, the uncovered one reverted


@pytest.mark.parametrize("genesis", [REPO_GENESIS, None])
def test_every_vm_of_the_node_uses_it(genesis, tmp_path):
    if genesis is None:   # an Ethereum chain: every fork from Frontier to Prague
        config = json.loads(REPO_GENESIS.read_text())
        del config["config"]["parlia"]
        config["config"]["terminalTotalDifficulty"] = 0
        genesis = tmp_path / "eth.json"
        genesis.write_text(json.dumps(config))
    chain_config = load_genesis(genesis)
    if chain_config.is_parlia:
        vm_classes = [fork.vm_class for fork in ForkSchedule.parlia().forks]
    else:
        vm_classes = [fork.vm_class for fork in ForkSchedule.from_config(chain_config).forks]
    assert len(vm_classes) >= 1
    for vm_class in vm_classes:
        assert vm_class.get_state_class().get_account_db_class() is BatchedAccountDB, vm_class


@pytest.mark.parametrize("nonce, balance", [(0, 0), (1, 255), (256, 2**255), (2**64 - 1, 2**256 - 1)])
def test_account_rlp_is_py_evms(nonce, balance):
    db = BatchedAccountDB(AtomicDB())
    address = b"\x11" * 20
    db.set_balance(address, balance)
    db.set_nonce(address, nonce)
    expected = rlp.encode(Account(nonce, balance), sedes=Account)
    assert db._journaltrie[address] == expected
