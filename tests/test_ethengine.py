"""EthereumEngine.verify_header: a chain without Parlia, header in, verdict out."""
import pytest
from eth.vm.forks import HomesteadVM

from consensus.errors import ConsensusError
from node.chain.ethengine import EthereumEngine
from node.chain.forks import ForkSchedule
from node.chain.genesis import parse_genesis

GENESIS = HomesteadVM.create_genesis_header(difficulty=0x20000, gas_limit=5_000_000, timestamp=0)


def engine(ttd=None) -> EthereumEngine:
    config = {"chainId": 7, "homesteadBlock": 0, "terminalTotalDifficulty": ttd}
    return EthereumEngine(7, ForkSchedule.from_config(parse_genesis({"config": config, "alloc": {}})))


def child(parent=GENESIS, timestamp=13, **changes):
    header = HomesteadVM.create_header_from_parent(parent, timestamp=timestamp, gas_limit=parent.gas_limit)
    return header.copy(**changes) if changes else header


POS_PARENT = child().copy(block_number=5, difficulty=0)


@pytest.mark.parametrize("ttd, header, parent, now_ms, error", [
    (None, child(), GENESIS, None, None),
    (None, child(timestamp=100), GENESIS, None, None),                      # no clock: history is not "future"
    (None, child(timestamp=100), GENESIS, 0, "block in the future"),
    (None, child(timestamp=14), GENESIS, 0, None),                          # within geth's 15 s allowance
    (None, child(difficulty=child().difficulty + 1), GENESIS, None, "invalid difficulty"),
    (None, child(block_number=2), GENESIS, None, "does not follow parent"),
    (None, child().copy(timestamp=0), GENESIS, None, "not after the parent"),
    (None, child(difficulty=0), GENESIS, None, "invalid difficulty"),       # no merge: difficulty 0 is wrong
    (10**9, child(difficulty=0), GENESIS, None, None),                      # a merged chain: no proof of work
    (10**9, child(POS_PARENT, 20, block_number=6), POS_PARENT, None, "invalid terminal block"),
    (10**9, child(POS_PARENT, 20, block_number=6, difficulty=0), POS_PARENT, None, None),
])
def test_verify_header(ttd, header, parent, now_ms, error):
    if error is None:
        engine(ttd).verify_header(header, parent, now_ms)
    else:
        with pytest.raises(ConsensusError, match=error):
            engine(ttd).verify_header(header, parent, now_ms)


def test_the_node_sees_no_validators_and_no_period():
    params = engine().params
    assert params.validators == () and params.period == 0 and params.chain_id == 7
