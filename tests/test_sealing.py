"""The automine seal path: one LMDB write transaction per sealed block, no fsync for a throwaway data dir (and
always for a user's), and the snapshot/revert path's cheap bookkeeping."""
from __future__ import annotations

from eth_account import Account

from node.chain.db import LmdbDB
from node.clock import SimClock
from node.config import NodeConfig
from node.node import Node

GWEI = 10**9


def _transfer(node: Node, nonce: int, value: int = 1, to: bytes = b"\x22" * 20) -> bytes:
    account = node.accounts[0]
    signed = Account.sign_transaction(dict(nonce=nonce, gas=21000, gasPrice=GWEI, to=to, value=value,
                                           chainId=node.chain_config.chain_id), account.private_key)
    return node.send_raw_transaction(bytes(signed.raw_transaction))


def _count_commits(monkeypatch) -> list[int]:
    """Sizes (keys written) of every LMDB write transaction committed from now on."""
    commits: list[int] = []
    original = LmdbDB._commit

    def counting(self: LmdbDB) -> None:
        if self._overlay:
            commits.append(len(self._overlay))
        original(self)
    monkeypatch.setattr(LmdbDB, "_commit", counting)
    return commits


def test_a_sealed_block_is_one_write_transaction(monkeypatch):
    with Node(NodeConfig(produce=False)) as node:
        sender = node.accounts[0].address
        commits = _count_commits(monkeypatch)
        tx_hash = _transfer(node, 0)
        block = node.mine()[0]
        assert len(commits) == 1   # state, tries, header, body, receipts, indexes and head pointer together
        assert node.chain.head.hash == block.hash
        assert node.chain.store.mined(tx_hash)[0].block_hash == block.hash
        assert node.chain.state_at().get_nonce(sender) == 1
        node.mine()   # an empty block too
        assert len(commits) == 2


def test_a_failed_build_leaves_nothing_in_the_store(monkeypatch):
    with Node(NodeConfig(produce=False)) as node:
        head = node.chain.head
        _transfer(node, 0)
        commits = _count_commits(monkeypatch)

        def broken_seal(header, key):
            raise RuntimeError("sealing failed")
        monkeypatch.setattr(node.chain.engine, "seal", broken_seal)
        try:
            node.mine()
        except RuntimeError:
            pass
        else:
            raise AssertionError("the seal's failure did not surface")
        assert commits == [] and node.chain.head.hash == head.hash
        monkeypatch.undo()
        block = node.mine()[0]   # the transaction is still pending and goes into the next block
        assert len(block.transactions) == 1


def test_throwaway_data_dir_is_not_synced_a_users_is(tmp_path):
    with Node(NodeConfig(produce=False)) as node:
        flags = node.db._env.flags()
        assert not node.db.durable and not flags["sync"] and not flags["metasync"]
    with Node(NodeConfig(produce=False, datadir=tmp_path / "data")) as node:
        flags = node.db._env.flags()
        assert node.db.durable and flags["sync"] and flags["metasync"]


def test_a_non_durable_store_commits_and_reopens(tmp_path):
    db = LmdbDB(tmp_path / "db", durable=False)
    with db.transaction():
        db[b"k"] = b"v"
    db.close()   # a clean close flushes what was written
    again = LmdbDB(tmp_path / "db")
    assert again[b"k"] == b"v"
    again.close()


def test_own_blocks_are_not_verified_again_a_peers_are(monkeypatch):
    from consensus import header as rules
    recovered = []
    recover = rules.recover_signer

    def counting(header, chain_id):
        recovered.append(header.block_number)
        return recover(header, chain_id)
    start = 1_900_000_000_000
    with Node(NodeConfig(produce=False), clock=SimClock(start)) as producer, \
            Node(NodeConfig(produce=False), clock=SimClock(start + 3_600_000)) as follower:   # its blocks are past
        _transfer(producer, 0)
        producer.mine()   # block 1: its snapshot walk may recover the genesis set's signers
        monkeypatch.setattr(rules, "recover_signer", counting)
        _transfer(producer, 1)
        block = producer.mine()[0]
        assert block.number not in recovered   # sealed here: neither verify_header nor py-evm's seal check
        for number in (1, 2):
            follower.import_block(producer.chain.block_by_number(number))
        assert block.number in recovered and follower.chain.head.hash == block.hash
