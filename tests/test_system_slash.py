"""SlashIndicator.submitDoubleSignEvidence through py-evm's real VM: BSC's precompile 0x68 checks, the felony
slash in StakeHub (jail, self-stake to SystemReward, at most two per interval), the submitter's reward, and the
same evidence refused twice."""
import pytest
import rlp
from eth_utils import keccak

from consensus.header import sign_header
from consensus.system import SLASH_INDICATOR, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET, SystemParams
from systemkit import CHAIN_ID, ETHER, USERS, VALIDATOR_KEYS, VALIDATORS, Sandbox, error_data, selector_call, \
    string_error
from test_system_stakehub import event_args, pooled

SUBMITTER = USERS[5].address
PARAMS = SystemParams(felony_jail_time=500, felony_slash_scope=50, breathe_block_interval=86_400)
SUBMIT = "submitDoubleSignEvidence(bytes,bytes)"
KEYS = dict(zip(VALIDATORS, VALIDATOR_KEYS))


def evidence(sb: Sandbox, key, first: dict | None = None, second: dict | None = None, key2=None) -> tuple[bytes, bytes]:
    """Two headers for the next height, sealed by `key` (the second by `key2` if given), differing in time."""
    base = sb.next_header(coinbase=key.public_key.to_canonical_address())
    one = sign_header(base.copy(**(first or {})), key, CHAIN_ID)
    two = sign_header(base.copy(timestamp=base.timestamp + 1, **(second or {})), key2 or key, CHAIN_ID)
    return rlp.encode(one), rlp.encode(two)


def submit(sb: Sandbox, header1: bytes, header2: bytes, sender: bytes = SUBMITTER):
    return sb.send(sender, SLASH_INDICATOR, selector_call(SUBMIT, header1, header2))


def current(sb: Sandbox) -> list[str]:
    return list(sb.view(VALIDATOR_SET, "getValidators()", returns=("address[]",))[0])


@pytest.fixture
def sb():
    sb = Sandbox(PARAMS, validators=VALIDATORS[:4])
    sb.send(USERS[0].address, SYSTEM_REWARD, b"", value=10 * ETHER)   # something to reward the submitter from
    return sb


def test_double_sign_evidence_jails_slashes_and_rewards_the_submitter(sb):
    signer = sb.validators[1]
    self_stake, reward_pool = pooled(sb, signer, signer), sb.balance(SYSTEM_REWARD)
    before = sb.balance(SUBMITTER)
    result = submit(sb, *evidence(sb, KEYS[signer]))
    assert result.ok, result.output

    until = sb.time + PARAMS.felony_jail_time
    assert sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", signer, returns=("uint256", "bool", "uint256"))[1:] \
        == (True, until)
    assert pooled(sb, signer, signer) == self_stake - PARAMS.felony_slash_amount
    assert "0x" + signer.hex() not in current(sb) and len(current(sb)) == 3
    paid = min((reward_pool + PARAMS.felony_slash_amount) * PARAMS.felony_slash_reward_ratio // 100, 5 * ETHER)
    assert sb.balance(SUBMITTER) == before + paid
    assert sb.balance(SYSTEM_REWARD) == reward_pool + PARAMS.felony_slash_amount - paid
    assert event_args(result, STAKE_HUB, "ValidatorSlashed(address,uint256,uint256,uint8)",
                      ("uint256", "uint256", "uint8")) == [(signer, until, PARAMS.felony_slash_amount, 0)]
    assert event_args(result, VALIDATOR_SET, "validatorFelony(address,uint256)", ("uint256",)) == [(signer, 0)]


def test_the_same_evidence_is_refused_twice_also_after_the_jail_term(sb):
    signer = sb.validators[0]
    one, two = evidence(sb, KEYS[signer])
    assert submit(sb, one, two).ok
    assert submit(sb, one, two).output == error_data("AlreadySlashed()")
    assert submit(sb, two, one).output == error_data("AlreadySlashed()")     # the same pair either way round
    sb.advance(PARAMS.felony_jail_time + 1)
    again = submit(sb, one, two)
    assert not again.ok and again.output == string_error("evidence already submitted")
    # a new double sign by the same validator after its term is a new felony
    fresh = evidence(sb, KEYS[signer], first={"gas_limit": 40_000_000})
    assert submit(sb, *fresh).ok


@pytest.mark.parametrize("first, second, key2", [
    ({}, {"block_number": 99}, None),                       # different heights
    ({}, {"parent_hash": keccak(b"other")}, None),          # different parents
    ({}, {}, VALIDATOR_KEYS[20]),                           # different signers
])
def test_evidence_that_is_not_a_double_sign_reverts_empty(sb, first, second, key2):
    signer = sb.validators[2]
    result = submit(sb, *evidence(sb, KEYS[signer], first, second, key2))
    assert not result.ok and result.output == b""
    assert sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", signer, returns=("uint256", "bool", "uint256"))[1] \
        is False


def test_bad_evidence_encodings(sb):
    one, _ = evidence(sb, KEYS[sb.validators[0]])
    assert submit(sb, one, one).output == b""                               # one header twice: same seal
    assert submit(sb, one, b"\xc0").output == b""                           # not a header
    assert submit(sb, one, b"").output == string_error("empty header")


def test_evidence_of_a_non_validator_or_too_old_is_refused(sb):
    outsider = VALIDATOR_KEYS[20]
    assert submit(sb, *evidence(sb, outsider)).output == string_error("validator not migrated")
    height = sb.header.block_number + 1
    last_chance, too_late = evidence(sb, KEYS[sb.validators[0]]), evidence(sb, KEYS[sb.validators[1]])
    while sb.header.block_number < height + PARAMS.felony_slash_scope:
        sb.advance(1)
    assert submit(sb, *last_chance).ok                      # evidenceHeight + felonySlashScope >= block.number
    sb.advance(1)
    assert submit(sb, *too_late).output == string_error("evidence too old")


def test_at_most_two_felonies_per_interval(sb):
    first, second, third = sb.validators[:3]
    assert submit(sb, *evidence(sb, KEYS[first])).ok
    assert submit(sb, *evidence(sb, KEYS[second])).ok
    assert submit(sb, *evidence(sb, KEYS[third])).output == error_data("NoMoreFelonyAllowed()")
    sb.advance(PARAMS.breathe_block_interval)
    assert submit(sb, *evidence(sb, KEYS[third])).ok
