"""ForkSchedule: which py-evm VM runs a block of a chain without Parlia (number, time, merge), table-tested."""
import logging

import pytest
from eth.vm.forks import (BerlinVM, CancunVM, FrontierVM, GrayGlacierVM, HomesteadVM, LondonVM, ParisVM,
                          PragueVM, ShanghaiVM, TangerineWhistleVM)

from consensus.seam import parlia_vm_class
from node.chain.forks import ForkSchedule
from node.chain.genesis import parse_genesis

# the fork layout of the execution-apis test chain: blocks up to the merge, then timestamps
CONFIG = {
    "chainId": 7, "homesteadBlock": 0, "eip150Block": 3, "eip155Block": 6, "eip158Block": 6, "byzantiumBlock": 9,
    "constantinopleBlock": 12, "petersburgBlock": 15, "istanbulBlock": 18, "muirGlacierBlock": 21,
    "berlinBlock": 24, "londonBlock": 27, "arrowGlacierBlock": 30, "grayGlacierBlock": 33,
    "mergeNetsplitBlock": 36, "terminalTotalDifficulty": 4732352, "shanghaiTime": 390, "cancunTime": 420,
    "pragueTime": 450, "osakaTime": 480, "bpo1Time": 510, "ethash": {},
}


def schedule(**config) -> ForkSchedule:
    return ForkSchedule.from_config(parse_genesis({"config": {**CONFIG, **config}, "alloc": {}}))


@pytest.mark.parametrize("number, timestamp, merged, name, base", [
    (0, 0, False, "homestead", HomesteadVM),
    (2, 20, False, "homestead", HomesteadVM),
    (3, 30, False, "tangerineWhistle", TangerineWhistleVM),
    (24, 240, False, "berlin", BerlinVM),
    (27, 270, False, "london", LondonVM),
    (35, 350, False, "grayGlacier", GrayGlacierVM),
    (36, 360, True, "paris", ParisVM),           # the merge is the block, not mergeNetsplitBlock
    (37, 389, True, "paris", ParisVM),
    (38, 390, True, "shanghai", ShanghaiVM),      # time forks go by timestamp, whatever the number
    (42, 420, True, "cancun", CancunVM),
    (45, 450, True, "prague", PragueVM),
    (48, 480, True, "osaka", PragueVM),           # py-evm has no Osaka: the latest VM runs it
    (60, 600, True, "bpo1", PragueVM),
])
def test_fork_by_number_time_and_merge(number, timestamp, merged, name, base):
    fork = schedule().fork_at(number, timestamp, merged)
    assert fork.name == name
    assert issubclass(fork.vm_class, base)


def test_pre_merge_blocks_do_not_check_ethash_seals():
    vm_class = schedule().vm_class(5, 50, False)
    assert vm_class.consensus_class.__name__ == "NoProofConsensus"
    assert schedule().vm_class(40, 400, True).consensus_class.__name__ == "PosConsensus"


def test_no_terminal_difficulty_means_no_merge():
    sched = schedule(terminalTotalDifficulty=None, shanghaiTime=None, cancunTime=None, pragueTime=None,
                     osakaTime=None, bpo1Time=None)
    assert sched.fork_at(100, 1000, True).name == "grayGlacier"


def early(**config) -> ForkSchedule:
    """A chain with only the first forks."""
    return ForkSchedule.from_config(parse_genesis({"config": {"chainId": 7, **config}, "alloc": {}}))


def test_frontier_before_homestead():
    sched = early(homesteadBlock=5)
    assert sched.fork_at(4, 40, False).name == "frontier"
    assert issubclass(sched.vm_class(4, 40, False), FrontierVM)
    assert sched.fork_at(5, 50, False).name == "homestead"


@pytest.mark.parametrize("support", [False, True])
def test_dao_fork_follows_dao_fork_support(support):
    sched = early(homesteadBlock=0, eip150Block=20, daoForkBlock=10, daoForkSupport=support)
    vm_class = sched.vm_class(10, 100, False)
    assert vm_class.support_dao_fork is support
    assert vm_class.get_dao_fork_block_number() == 10


def test_without_dao_fork_block_there_is_no_dao_fork():
    assert schedule().vm_class(1, 10, False).support_dao_fork is False


def test_a_fork_py_evm_lacks_is_logged_once(caplog):
    sched = schedule()
    with caplog.at_level(logging.WARNING, logger="smartchain.forks"):
        for number in (48, 49, 50):
            sched.fork_at(number, number * 10, True)
    warnings = [r.getMessage() for r in caplog.records if "osaka" in r.getMessage()]
    assert len(warnings) == 1 and "prague" in warnings[0]


def test_parlia_has_one_vm_from_block_zero():
    vm_class = parlia_vm_class()
    sched = ForkSchedule.single(vm_class)
    assert sched.fork_at(0, 0, False).vm_class is vm_class
    assert sched.fork_at(10**6, 10**10, False).vm_class is vm_class
    assert sched.terminal_total_difficulty is None
