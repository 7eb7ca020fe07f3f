"""A genesis config's fork schedule as py-evm VM classes: which VM runs a block, by number, time and the merge.

geth activates Ethereum's forks by block number (homesteadBlock ... grayGlacierBlock), at the merge (the first block
whose parent's total difficulty reached terminalTotalDifficulty: its difficulty is 0) and by timestamp (shanghaiTime
...). py-evm has one VM per fork but picks VMs by block number alone, so the chain asks this schedule instead. A fork
py-evm does not have (osakaTime, the BPO forks ...) runs on py-evm's latest VM and is logged once as such.
A Parlia chain has one VM, Prague with Parlia's rules, from block 0: `ForkSchedule.single`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Mapping, Type

from eth.abc import BlockHeaderAPI, VirtualMachineAPI
from eth.chains.mainnet import MainnetDAOValidatorVM
from eth.consensus.noproof import NoProofConsensus
from eth.vm.forks import (ArrowGlacierVM, BerlinVM, ByzantiumVM, CancunVM, ConstantinopleVM, FrontierVM,
                          GrayGlacierVM, HomesteadVM, IstanbulVM, LondonVM, MuirGlacierVM, ParisVM, PetersburgVM,
                          PragueVM, ShanghaiVM, SpuriousDragonVM, TangerineWhistleVM)

from consensus.seam import parlia_vm_class
from node.chain import blobgas
from node.chain.genesis import BlobParams, ChainConfig
from node.chain.statedb import BatchedAccountDB

log = logging.getLogger("smartchain.forks")

# (genesis key, geth's fork name, py-evm VM), in activation order. eip155Block and eip158Block are one VM in py-evm
# (Spurious Dragon); geth's own configs set them together.
BLOCK_FORKS: tuple[tuple[str, str, type], ...] = (
    ("homesteadBlock", "homestead", HomesteadVM),
    ("eip150Block", "tangerineWhistle", TangerineWhistleVM),
    ("eip158Block", "spuriousDragon", SpuriousDragonVM),
    ("byzantiumBlock", "byzantium", ByzantiumVM),
    ("constantinopleBlock", "constantinople", ConstantinopleVM),
    ("petersburgBlock", "petersburg", PetersburgVM),
    ("istanbulBlock", "istanbul", IstanbulVM),
    ("muirGlacierBlock", "muirGlacier", MuirGlacierVM),
    ("berlinBlock", "berlin", BerlinVM),
    ("londonBlock", "london", LondonVM),
    ("arrowGlacierBlock", "arrowGlacier", ArrowGlacierVM),
    ("grayGlacierBlock", "grayGlacier", GrayGlacierVM),
)
TIME_FORKS: tuple[tuple[str, str, type | None], ...] = (
    ("shanghaiTime", "shanghai", ShanghaiVM),
    ("cancunTime", "cancun", CancunVM),
    ("pragueTime", "prague", PragueVM),
    # py-evm has none of these: they run on its latest VM
    ("osakaTime", "osaka", None),
    ("bpo1Time", "bpo1", None),
    ("bpo2Time", "bpo2", None),
    ("bpo3Time", "bpo3", None),
    ("bpo4Time", "bpo4", None),
    ("bpo5Time", "bpo5", None),
    ("amsterdamTime", "amsterdam", None),
    ("verkleTime", "verkle", None),
)
LATEST_VM = PragueVM


@dataclass(frozen=True)
class Fork:
    """One step of the schedule: geth's name, when it starts, and the VM that runs its blocks."""

    name: str
    vm_class: Type[VirtualMachineAPI]
    block: int | None = None       # block-number fork: first block
    time: int | None = None        # timestamp fork: first timestamp
    merge: bool = False            # the merge (Paris): the first block after terminalTotalDifficulty
    native: bool = True            # False: py-evm lacks the fork, its blocks run on `vm_class` (the latest VM)


class ForkSchedule:
    """The forks of one chain, oldest first; `fork_at` picks the one that rules a block."""

    def __init__(self, forks: tuple[Fork, ...], terminal_total_difficulty: int | None = None,
                 blob_schedule: Mapping[str, BlobParams] | None = None):
        self.forks = forks
        self.terminal_total_difficulty = terminal_total_difficulty
        self.blob_schedule = {**blobgas.DEFAULTS, **(blob_schedule or {})}
        self._warned: set[str] = set()

    @classmethod
    def single(cls, vm_class: Type[VirtualMachineAPI], name: str = "prague") -> "ForkSchedule":
        """One VM from block 0 and time 0 (the Parlia devnet: every fork through Prague at genesis)."""
        return cls((Fork(name, vm_class, block=0, time=0),))

    @classmethod
    def parlia(cls) -> "ForkSchedule":
        """Parlia's Prague VM (consensus/seam.py) from genesis, as the node runs it."""
        return cls.single(_node_vm(parlia_vm_class()))

    @classmethod
    def from_config(cls, config: ChainConfig) -> "ForkSchedule":
        """Ethereum's forks as the genesis config schedules them; proof-of-work seals are not checked."""
        forks = [Fork("frontier", _no_proof(FrontierVM), block=0)]
        dao_block = config.block_forks.get("daoForkBlock")
        for key, name, vm_class in BLOCK_FORKS:
            start = config.block_forks.get(key)
            if start is None:
                continue
            if vm_class is HomesteadVM:
                vm_class = _homestead(dao_block, config.dao_fork_support)
            forks.append(Fork(name, _no_proof(vm_class), block=start))
        ttd = config.terminal_total_difficulty
        if ttd is not None:
            forks.append(Fork("paris", _node_vm(ParisVM), merge=True))
        for key, name, vm_class in TIME_FORKS:
            start = config.time_forks.get(key)
            if start is None:
                continue
            forks.append(Fork(name, _node_vm(vm_class or LATEST_VM), time=start, native=vm_class is not None))
        return cls(tuple(forks), ttd, config.blob_schedule)

    def fork_at(self, number: int, timestamp: int, merged: bool) -> Fork:
        """The newest fork active for a block with this number and time, after the merge or not."""
        current = self.forks[0]
        for fork in self.forks:
            if fork.block is not None and number >= fork.block:
                current = fork
            elif fork.merge and merged:
                current = fork
            elif fork.time is not None and timestamp >= fork.time:
                current = fork
        if not current.native and current.name not in self._warned:
            self._warned.add(current.name)
            log.warning("fork %s is not in py-evm 0.12: its blocks run on %s's rules", current.name,
                        current.vm_class.fork)
        return current

    def vm_class(self, number: int, timestamp: int, merged: bool) -> Type[VirtualMachineAPI]:
        return self.fork_at(number, timestamp, merged).vm_class

    def is_merged(self, header: BlockHeaderAPI) -> bool:
        """A stored or proposed header is a proof-of-stake one: difficulty 0 on a chain with a merge."""
        return self.terminal_total_difficulty is not None and header.difficulty == 0

    def vm_class_for(self, header: BlockHeaderAPI) -> Type[VirtualMachineAPI]:
        return self.vm_class(header.block_number, header.timestamp, self.is_merged(header))

    def fork_for(self, header: BlockHeaderAPI) -> Fork:
        return self.fork_at(header.block_number, header.timestamp, self.is_merged(header))

    def blob_params(self, fork: Fork) -> BlobParams | None:
        """geth's latestBlobConfig: the blobSchedule entry of the newest active fork among Cancun, Prague and the
        BPO forks that has one (Osaka has none of its own); None before Cancun."""
        for earlier in reversed(self.forks[:self.forks.index(fork) + 1]):
            if earlier.name in blobgas.SCHEDULED_FORKS and earlier.name in self.blob_schedule:
                return self.blob_schedule[earlier.name]
        return None

    def blob_base_fee(self, header: BlockHeaderAPI) -> int:
        """The price of blob gas in `header`'s block (0 before Cancun, as geth answers)."""
        params = self.blob_params(self.fork_for(header))
        return 0 if params is None else blobgas.blob_base_fee(header.excess_blob_gas, params)

    def next_excess_blob_gas(self, header: BlockHeaderAPI, timestamp: int) -> tuple[int, BlobParams | None]:
        """geth's CalcExcessBlobGas for `header`'s child at `timestamp`, with the child's blob parameters."""
        fork = self.fork_at(header.block_number + 1, timestamp, self.is_merged(header))
        params = self.blob_params(fork)
        if params is None:
            return 0, None
        excess, used = getattr(header, "excess_blob_gas", 0), getattr(header, "blob_gas_used", 0)
        reserve = fork.name in blobgas.RESERVE_PRICE_FORKS
        return blobgas.next_excess_blob_gas(excess, used, getattr(header, "base_fee_per_gas", 0), params,
                                            reserve), params

    def next_blob_base_fee(self, header: BlockHeaderAPI, timestamp: int | None = None) -> int:
        """The blob gas price of `header`'s child (at `timestamp`, default one second later)."""
        excess, params = self.next_excess_blob_gas(
            header, header.timestamp + 1 if timestamp is None else timestamp)
        return 0 if params is None else blobgas.blob_base_fee(excess, params)


def _node_vm(vm_class: type, **overrides) -> type:
    """`vm_class` as the node runs it: its state keeps accounts in py-evm's account db with each block's trie
    changes applied in one pass (node/statedb.py: same roots), and `overrides`."""
    state = vm_class.get_state_class()
    return vm_class.configure(__name__=vm_class.__name__, **overrides, _state_class=state.configure(
        __name__=state.__name__, account_db_class=BatchedAccountDB))


def _no_proof(vm_class: type) -> type:
    # Blocks come from a trusted file or our own chain: ethash seals are not verified (py-evm would need pyethash)
    return _node_vm(vm_class, consensus_class=NoProofConsensus)


def _homestead(dao_block: int | None, support: bool) -> type:
    if dao_block is None:
        return HomesteadVM.configure(__name__="HomesteadVM", support_dao_fork=False)
    # geth's rule at daoForkBlock: with daoForkSupport the DAO's state change and its extraData on the fork's ten
    # blocks, without it that extraData refused there
    return MainnetDAOValidatorVM.configure(__name__="HomesteadVM", support_dao_fork=support,
                                           _dao_fork_block_number=dao_block)
