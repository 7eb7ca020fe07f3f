"""Warm VMs for eth_call and eth_estimateGas: one VM per block state, reused by every call at that state.

A fresh VM starts with empty caches, so each account, code and storage slot a call touches is walked down the trie
from the state root (a `balanceOf` call spent most of its time there, and an estimate paid it once per run). Here a
VM at a header is kept after use: each run executes inside a state snapshot that is reverted afterwards (py-evm's
journal, the same mechanism that undoes a failed frame), so the next run starts from the same state with the trie
reads already cached. A VM is keyed by the header's hash and the chain's pending dev edits (`Chain.head_edits`), as
`Chain.state_at` keys its read state; a key changes with every new head, so stale VMs simply stop being asked for
and are evicted oldest first.

Execution threads never share a VM: a run takes an idle VM out of the pool and puts it back when done, so calls on
the RPC execution lane run in parallel on VMs of their own. A run that ends with an exception (a deadline, a bug)
drops its VM instead of reverting it, so a half-undone state is never reused.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from typing import Hashable, Iterator

from eth.abc import BlockHeaderAPI, VirtualMachineAPI

KEPT_STATES = 4        # block states with idle VMs kept (the head's, plus a few for calls at recent blocks)
KEPT_PER_STATE = 4     # idle VMs kept per state: one per RPC execution worker


class CallVMs:
    """A pool of VMs at block states of one chain, reused across calls (see the module docstring)."""

    def __init__(self, chain, states: int = KEPT_STATES, per_state: int = KEPT_PER_STATE) -> None:
        self._chain = weakref.ref(chain)   # weak: the pool lives in a WeakKeyDictionary keyed by this chain
        self.states = states
        self.per_state = per_state
        self._idle: OrderedDict[Hashable, list[VirtualMachineAPI]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, header: BlockHeaderAPI) -> Hashable:
        """What a VM at `header` depends on: the block's state and, at the head, the dev edits applied to it."""
        return header.hash, self.chain.head_edits

    @property
    def chain(self):
        chain = self._chain()
        if chain is None:
            raise RuntimeError("the chain of these call VMs is gone")
        return chain

    def _take(self, key: Hashable) -> VirtualMachineAPI | None:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                self._idle.move_to_end(key)
                return idle.pop()
        return None

    def _give_back(self, key: Hashable, vm: VirtualMachineAPI) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < self.per_state:
                idle.append(vm)
            while len(self._idle) > self.states:
                self._idle.popitem(last=False)

    @contextmanager
    def vm(self, header: BlockHeaderAPI) -> Iterator[VirtualMachineAPI]:
        """A VM on the state after `header` (dev edits applied as `Chain.vm_at` applies them); whatever the caller
        does to its state is undone when the block exits."""
        key = self.key(header)
        vm = self._take(key) or self._new_vm(header)
        state = vm.state
        computation_class = state.computation_class
        snapshot = state.snapshot()
        yield vm   # an exception here leaves the VM to the garbage collector: it is never given back
        state.revert(snapshot)
        accounts = state._account_db
        # py-evm never forgets an account whose storage was written (its `_dirty_accounts` is not journaled), and
        # every later revert then empties that account's storage read cache: a call after an estimate of a
        # transfer would walk the token's storage trie again. After the revert those stores hold the base's
        # (unchanged) storage, exactly as when they were clean, so the base's set is put back.
        if len(accounts._dirty_accounts) != len(vm.base_dirty):
            accounts._dirty_accounts = set(vm.base_dirty)
        if state.computation_class is not computation_class:
            state.computation_class = computation_class   # a run's per-call class (e.g. a deadline) goes too
        self._give_back(key, vm)

    def _new_vm(self, header: BlockHeaderAPI) -> VirtualMachineAPI:
        vm = self.chain.vm_at(header)
        vm.base_dirty = frozenset(vm.state._account_db._dirty_accounts)   # after the dev edits: see vm()
        return vm


_POOLS: "weakref.WeakKeyDictionary[object, CallVMs]" = weakref.WeakKeyDictionary()
_POOLS_LOCK = threading.Lock()


def call_vms(chain) -> CallVMs:
    """The pool of call VMs of `chain` (one per chain object, made on first use, gone with the chain)."""
    pool = _POOLS.get(chain)
    if pool is None:
        with _POOLS_LOCK:
            pool = _POOLS.get(chain)
            if pool is None:
                pool = _POOLS[chain] = CallVMs(chain)
    return pool
