"""py-evm's account and storage databases, with each block's trie changes applied in one pass.

py-evm writes every changed account and every changed storage slot into its trie with one `HexaryTrie.set`, which
re-encodes and re-hashes the path from the root down each time (~0.6 ms a key: a fifth of building a block). Here
the changes are handed to `node/trieupdate.py` as one batch, so each touched node is rebuilt and hashed once. Account
edits also build the new `Account` from its four fields instead of `Account.copy`, which deep-copies every field.

Roots, stored nodes and reads are py-evm's: the batch gives HexaryTrie's root and writes the new trie's nodes to the
same batch databases py-evm writes them to (committed at the same `persist`), and reads the same stored nodes on the
way, so the nodes recorded as read for the block witness (`MetaWitness`) are the ones the trie needed. Accounts are
updated deletions first, then sets, in py-evm's order; a storage trie's changes go as one batch (py-evm applies them
in journal order; the root is the same, only the siblings read for collapsing a branch could differ in the witness,
which nothing in this node reads).

Reads consult the store's StateCaches (node/chain/statecache.py, when the db has one: LmdbDB) before the trie: what
an earlier state or block read or wrote under the same root, accounts and storage slots alike; each batch of trie
changes carries the entries over to the new root. Reads served from there are not recorded for the witness either.

Installed through py-evm's configuration seam (a VM state's `account_db_class`: `consensus/seam.py` for Parlia,
`node/forks.py` for Ethereum forks).
"""
from __future__ import annotations

from eth.abc import AtomicDatabaseAPI, DatabaseAPI
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.db.account import AccountDB
from eth.db.cache import CacheDB
from eth.db.diff import DBDiff
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB, StorageLookup
from eth.rlp.accounts import Account
from eth.validation import validate_canonical_address, validate_is_bytes, validate_uint64, validate_uint256
from eth.vm.interrupt import MissingAccountTrieNode, MissingStorageTrieNode
from eth_hash.auto import keccak
from eth_typing import Address, Hash32
from rlp.codec import encode_raw
from trie import HexaryTrie
from trie.exceptions import MissingTrieNode

from node.chain.statecache import MISSING, StateCache
from node.chain.trieupdate import update_trie


def _uint(value: int) -> bytes:
    """RLP's integer: big-endian without leading zeros (0 is empty)."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class BatchedStorageLookup(StorageLookup):
    """py-evm's StorageLookup, whose slot writes wait and go into the trie as one batch when the trie is next read
    (its root, a slot, a commit or a storage wipe)."""

    _pending: dict[bytes, bytes]
    shared: StateCache | None = None   # the store's slots by storage root

    def _initialize_to_root_hash(self, root_hash: Hash32) -> None:
        self._pending = {}
        super()._initialize_to_root_hash(root_hash)

    def __getitem__(self, key: bytes) -> bytes:
        shared = self.shared
        if shared is None:
            return super().__getitem__(key)
        self._flush()
        root = self._starting_root_hash if self._write_trie is None else self._write_trie.root_hash
        hashed_slot = self._decode_key(key)
        value = shared.get(root, hashed_slot)
        if value is MISSING:
            value = super().__getitem__(key)
            shared.put(root, hashed_slot, value)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._get_write_trie()   # as py-evm's: a write, even of an unchanged value, marks the root changed
        self._pending[self._decode_key(key)] = value

    def __delitem__(self, key: bytes) -> None:
        self._get_write_trie()
        self._pending[self._decode_key(key)] = b""

    def _flush(self) -> None:
        if not self._pending:
            return
        trie = self._write_trie
        old_root = trie.root_hash
        try:
            trie.root_hash = update_trie(self._trie_nodes_batch, old_root, self._pending.items())
        except MissingTrieNode as exc:
            raise MissingStorageTrieNode(exc.missing_node_hash, self._starting_root_hash, exc.requested_key,
                                         None, self._address) from exc
        if self.shared is not None:
            self.shared.advance(old_root, trie.root_hash, self._pending.items())
        self._pending = {}

    def _get_read_trie(self) -> HexaryTrie:
        self._flush()
        return super()._get_read_trie()

    def get_changed_root(self) -> Hash32:
        self._flush()
        return super().get_changed_root()

    def commit_to(self, db: DatabaseAPI) -> None:
        self._flush()
        super().commit_to(db)

    def new_trie(self) -> int:
        self._flush()   # the wiped trie is kept, complete, for a revert
        return super().new_trie()

    def rollback_trie(self, trie_index: int) -> None:
        self._pending = {}   # writes waiting for the trie being rolled back go with it
        super().rollback_trie(trie_index)


class BatchedStorageDB(AccountStorageDB):
    """py-evm's AccountStorageDB over a BatchedStorageLookup."""

    def __init__(self, db: AtomicDatabaseAPI, storage_root: Hash32, address: Address,
                 shared: StateCache | None = None) -> None:
        super().__init__(db, storage_root, address)
        # the same chain of layers as py-evm's, with the batching lookup at the bottom
        self._storage_lookup = BatchedStorageLookup(db, storage_root, address)
        self._storage_lookup.shared = shared
        self._storage_cache = CacheDB(self._storage_lookup)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class _SharedAccountReads(CacheDB):
    """py-evm's per-state cache of the account trie (address -> account RLP), which asks the store's cache, under the
    trie's current root, before the trie itself."""

    def __init__(self, db: DatabaseAPI, trie: HexaryTrie, shared: StateCache) -> None:
        super().__init__(db)
        self._hexary = trie
        self._shared = shared

    def __getitem__(self, key: bytes) -> bytes:
        try:
            return self._cached_values[key]
        except KeyError:
            pass
        root = self._hexary.root_hash
        value = self._shared.get(root, key)
        if value is MISSING:
            value = self._db[key]
            self._shared.put(root, key, value)
        self._cached_values[key] = value
        return value


class BatchedAccountDB(AccountDB):
    """py-evm's AccountDB: account and storage tries updated in one pass per root, accounts edited without copies,
    reads shared with every state on the same store (StateCaches)."""

    def __init__(self, db: AtomicDatabaseAPI, state_root: Hash32 = BLANK_ROOT_HASH) -> None:
        super().__init__(db, state_root)
        self._shared = getattr(db, "state_caches", None)
        if self._shared is not None:
            self._shared.accounts.touch(state_root)
            # py-evm's chain of layers, with the shared cache under the journal
            self._trie_cache = _SharedAccountReads(self._trie_logger, self._trie._db, self._shared.accounts)
            self._journaltrie = JournalDB(self._trie_cache)

    def _get_address_store(self, address: Address) -> BatchedStorageDB:
        store = self._account_stores.get(address)
        if store is None:
            store = BatchedStorageDB(self._raw_store_db, self._get_storage_root(address), address,
                                     None if self._shared is None else self._shared.storage)
            self._account_stores[address] = store
        return store

    def _apply_account_diff_without_proof(self, diff: DBDiff, trie: DatabaseAPI) -> None:
        """The account changes applied to `trie` (py-evm's squashing trie) as batches: deletions, then sets."""
        hexary = trie._db   # HashTrie (keccak of the address) over the HexaryTrie
        deleted = [(keccak(address), b"") for address in diff.deleted_keys()]
        pending = [(keccak(address), value) for address, value in diff.pending_items()]
        old_root = hexary.root_hash
        try:
            for batch in (deleted, pending):
                if batch:
                    hexary.root_hash = update_trie(hexary.db, hexary.root_hash, batch)
        except MissingTrieNode as exc:
            raise MissingAccountTrieNode(exc.missing_node_hash, self._root_hash_at_last_persist,
                                         exc.requested_key) from exc
        if self._shared is not None:   # the cache is keyed by address, the trie by its hash
            self._shared.accounts.advance(old_root, hexary.root_hash, [
                *((address, b"") for address in diff.deleted_keys()), *diff.pending_items()])

    def _set_account(self, address: Address, account: Account) -> None:
        # py-evm's, with the account's RLP made from its four fields directly (rlp.encode with the Account sedes
        # serialises each field through its sedes: ~6 us against ~3 us here, several times per transaction)
        self._account_cache[address] = account
        self._journaltrie[address] = encode_raw([_uint(account.nonce), _uint(account.balance), account.storage_root,
                                                 account.code_hash])

    # The setters below are py-evm's, with the new Account built from its fields (Account.copy deep-copies each
    # field and re-validates; an Account is immutable, so sharing the unchanged fields is safe).
    def set_balance(self, address: Address, balance: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint256(balance, title="Account Balance")
        account = self._get_account(address)
        self._set_account(address, Account(account.nonce, balance, account.storage_root, account.code_hash))

    def set_nonce(self, address: Address, nonce: int) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_uint64(nonce, title="Nonce")   # py-evm allows 2**64-1 here
        account = self._get_account(address)
        self._set_account(address, Account(nonce, account.balance, account.storage_root, account.code_hash))

    def _set_storage_root(self, address: Address, new_storage_root: Hash32) -> None:
        account = self._get_account(address)
        self._set_account(address, Account(account.nonce, account.balance, new_storage_root, account.code_hash))

    def set_code(self, address: Address, code: bytes) -> None:
        validate_canonical_address(address, title="Storage Address")
        validate_is_bytes(code, title="Code")
        account = self._get_account(address)
        code_hash = keccak(code)
        self._journaldb[code_hash] = code
        self._set_account(address, Account(account.nonce, account.balance, account.storage_root, code_hash))

    def delete_code(self, address: Address) -> None:
        validate_canonical_address(address, title="Storage Address")
        account = self._get_account(address)
        self._set_account(address, Account(account.nonce, account.balance, account.storage_root, EMPTY_SHA3))
