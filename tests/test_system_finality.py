"""BLS in the system contracts through py-evm's real VM: precompile 0x66 (BSC's vectors, gas, revert vs empty),
StakeHub's registration proof in createValidator/editVoteAddress, and SlashIndicator's finality-violation evidence
slashing and jailing a validator that signed two votes for one target."""
import pytest
import rlp
from eth_utils import keccak

from consensus import bls, votes
from consensus.system import SLASH_INDICATOR, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET, GenesisValidator, SystemParams
from consensus.system.blsverify import BLS_SIGNATURE_VERIFY
from consensus.votes import VoteData
from systemkit import CHAIN_ID, ETHER, USERS, VALIDATOR_KEYS, VALIDATORS, Sandbox, error_data, selector_call, \
    string_error
from test_bls import PRECOMPILE_VECTOR_0
from test_system_stakehub import CREATE, create_args, event_args, pooled

ALICE = USERS[1].address
ALICE_CONSENSUS = USERS[6].address
ALICE_VOTE_KEY = bls.derive_secret_key(b"alice", b"test vote key")
ALICE_VOTE = bls.public_key(ALICE_VOTE_KEY)
PARAMS = SystemParams(breathe_block_interval=3600, check_vote_address_proof=1)
GAS = 200_000


def call_0x66(sb: Sandbox, data: bytes, gas: int = GAS):
    return sb.send(USERS[0].address, BLS_SIGNATURE_VERIFY, data, gas=gas)


# --- precompile 0x66 ---


def test_0x66_bsc_vector_0_verifies_for_4500_gas():
    sb = Sandbox(PARAMS)
    result = call_0x66(sb, PRECOMPILE_VECTOR_0)
    assert result.ok and result.output == b"\x01"
    assert result.computation.get_gas_used() == 4_500  # the message's gas: 1000 + 3500 x 1 key


def test_0x66_answers_empty_on_a_failed_check_and_reverts_on_undecodable_input():
    sb = Sandbox(PARAMS)
    message, signature, key = PRECOMPILE_VECTOR_0[:32], PRECOMPILE_VECTOR_0[32:128], PRECOMPILE_VECTOR_0[128:]
    failed = call_0x66(sb, message + signature + ALICE_VOTE)  # a valid key, not the signer's
    assert failed.ok and failed.output == b""
    undecodable = [
        message + signature + key[:-1] + b"\x87",  # BSC's fail vector: the key no longer decodes
        message + signature[:-1] + b"\x00" + key,  # a signature off the curve
        b"",  # BSC's other fail vector
        PRECOMPILE_VECTOR_0[:128],  # no key
        PRECOMPILE_VECTOR_0 + b"\x00",  # not a multiple of 48 after the signature
    ]
    for data in undecodable:
        reverted = call_0x66(sb, data)
        assert not reverted.ok and reverted.output == b"", data.hex()
        assert reverted.computation.get_gas_used() < GAS  # a revert, not a burn: the rest came back


@pytest.mark.parametrize("length, gas", [(0, 1000), (128, 1000), (129, 1000), (176, 4500), (224, 8000)])
def test_0x66_gas(length, gas):
    sb = Sandbox(PARAMS)
    data = (PRECOMPILE_VECTOR_0 + PRECOMPILE_VECTOR_0[128:])[:length].ljust(length, b"\x01")
    assert sb.call(BLS_SIGNATURE_VERIFY, data).computation.get_gas_used() == gas


def test_0x66_aggregate_of_several_keys():
    sb = Sandbox(PARAMS)
    secrets = [bls.derive_secret_key(bytes([i]), b"agg") for i in range(3)]
    message = keccak(b"one message")
    signature = bls.aggregate(bls.sign(s, message) for s in secrets)
    keys = b"".join(bls.public_key(s) for s in secrets)
    assert call_0x66(sb, message + signature + keys).output == b"\x01"
    assert call_0x66(sb, message + signature + keys[:96]).output == b""


# --- StakeHub's registration proof ---


def _create(sb, proof, vote=ALICE_VOTE, sender=ALICE):
    return sb.send(sender, STAKE_HUB, selector_call(CREATE, *create_args(vote=vote, proof=proof)),
                   value=2_001 * ETHER, gas=5_000_000)


def test_create_validator_with_the_right_bls_proof_succeeds():
    sb = Sandbox(PARAMS)
    result = _create(sb, votes.registration_proof(ALICE_VOTE_KEY, ALICE, CHAIN_ID))
    assert result.ok
    assert sb.view(STAKE_HUB, "getValidatorVoteAddress(address)", ALICE, returns=("bytes",)) == (ALICE_VOTE,)


@pytest.mark.parametrize("proof", [
    votes.registration_proof(ALICE_VOTE_KEY, USERS[2].address, CHAIN_ID),   # another operator's
    votes.registration_proof(ALICE_VOTE_KEY, ALICE, 56),                   # another chain's
    votes.registration_proof(bls.derive_secret_key(b"x"), ALICE, CHAIN_ID),  # another key's
    bls.sign(ALICE_VOTE_KEY, ALICE_VOTE),                                   # an IETF-style proof: not BSC's
], ids=["other operator", "other chain", "other key", "pop over the key"])
def test_create_validator_with_a_wrong_bls_proof_reverts_invalid_vote_address(proof):
    sb = Sandbox(PARAMS)
    before = sb.balance(ALICE)
    result = _create(sb, proof)
    assert not result.ok and result.output == error_data("InvalidVoteAddress()")
    assert sb.balance(ALICE) == before


def test_create_validator_with_an_undecodable_key_reverts_without_data():
    # 0x66 reverts, and BSC's _checkVoteAddress answers a failed staticcall with revert(0, 0)
    sb = Sandbox(PARAMS)
    result = _create(sb, votes.registration_proof(ALICE_VOTE_KEY, ALICE, CHAIN_ID), vote=bytes(range(48)))
    assert not result.ok and result.output == b""


def test_the_proof_is_checked_by_default_and_a_genesis_may_turn_it_off():
    assert not _create(Sandbox(SystemParams(breathe_block_interval=3600)), b"\x22" * 96, vote=b"\x11" * 48).ok
    sb = Sandbox(SystemParams(breathe_block_interval=3600, check_vote_address_proof=0))
    assert _create(sb, b"\x22" * 96, vote=b"\x11" * 48).ok   # only the lengths are checked


def test_edit_vote_address_checks_the_proof():
    sb = Sandbox(PARAMS)
    assert _create(sb, votes.registration_proof(ALICE_VOTE_KEY, ALICE, CHAIN_ID)).ok
    sb.advance(3601)
    new_key = bls.derive_secret_key(b"alice 2", b"test vote key")
    new_vote = bls.public_key(new_key)
    edit = "editVoteAddress(bytes,bytes)"
    wrong = sb.send(ALICE, STAKE_HUB, selector_call(edit, new_vote, votes.registration_proof(new_key, ALICE, 97)))
    assert not wrong.ok and wrong.output == error_data("InvalidVoteAddress()")
    right = sb.send(ALICE, STAKE_HUB, selector_call(edit, new_vote,
                                                     votes.registration_proof(new_key, ALICE, CHAIN_ID)))
    assert right.ok
    assert sb.view(STAKE_HUB, "getValidatorVoteAddress(address)", ALICE, returns=("bytes",)) == (new_vote,)


# --- finality-violation evidence ---

_VOTE = "(uint256,bytes32,uint256,bytes32,bytes)"
EVIDENCE = f"submitFinalityViolationEvidence(({_VOTE},{_VOTE},bytes))"
VOTE_SECRETS = [votes.vote_key_for(k.to_bytes()) for k in VALIDATOR_KEYS[:4]]
SUBMITTER = USERS[3].address


def h(label: str) -> bytes:
    return keccak(label.encode())


@pytest.fixture
def staked():
    """Four genesis validators with vote keys; SystemReward holds 50 BNB; the chain at block 100."""
    genesis = [GenesisValidator(VALIDATORS[i], vote_address=bls.public_key(VOTE_SECRETS[i])) for i in range(4)]
    sb = Sandbox(PARAMS, validators=VALIDATORS[:4], genesis_validators=genesis)
    assert sb.send(USERS[0].address, SYSTEM_REWARD, value=50 * ETHER).ok
    for _ in range(100):
        sb.advance(1)
    return sb


def vote(i: int, data: VoteData) -> tuple:
    signature = votes.sign_vote(VOTE_SECRETS[i], data).signature
    return (data.source_number, data.source_hash, data.target_number, data.target_hash, signature)


def evidence(i, a: VoteData, b: VoteData, key_of: int | None = None):
    address = bls.public_key(VOTE_SECRETS[i if key_of is None else key_of])
    return selector_call(EVIDENCE, (vote(i, a), vote(i, b), address))


DOUBLE = (VoteData(90, h("s90"), 95, h("t95")), VoteData(90, h("s90"), 95, h("t95 other")))


def test_a_double_voter_is_slashed_and_jailed_through_the_evidence_call(staked):
    sb, offender = staked, VALIDATORS[0]
    stake_before = pooled(sb, offender, offender)
    reward_before = sb.balance(SYSTEM_REWARD)
    submitter_before = sb.balance(SUBMITTER)
    result = sb.send(SUBMITTER, SLASH_INDICATOR, evidence(0, *DOUBLE))
    assert result.ok, result.output
    slashed = event_args(result, STAKE_HUB, "ValidatorSlashed(address,uint256,uint256,uint8)",
                         ("uint256", "uint256", "uint8"))
    assert slashed == [(offender, sb.time + PARAMS.felony_jail_time, PARAMS.felony_slash_amount, 2)]
    assert pooled(sb, offender, offender) == stake_before - PARAMS.felony_slash_amount
    info = sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", offender, returns=("uint256", "bool", "uint256"))
    assert info[1:] == (True, sb.time + PARAMS.felony_jail_time)
    # the submitter got 20 % of SystemReward's balance (before the slashed stake arrived), at most 5 BNB a claim
    paid = min(reward_before * PARAMS.felony_slash_reward_ratio // 100, 5 * ETHER)
    assert paid == 5 * ETHER
    assert sb.balance(SUBMITTER) == submitter_before + paid
    assert sb.balance(SYSTEM_REWARD) == reward_before - paid + PARAMS.felony_slash_amount
    assert offender not in [bytes.fromhex(a[2:]) for a in
                            sb.view(VALIDATOR_SET, "getValidators()", returns=("address[]",))[0]]
    again = sb.send(SUBMITTER, SLASH_INDICATOR, evidence(0, *DOUBLE))
    assert not again.ok


def test_a_surround_vote_is_evidence_too(staked):
    outer, inner = VoteData(80, h("s80"), 95, h("t95")), VoteData(85, h("s85"), 90, h("t90"))
    assert staked.send(SUBMITTER, SLASH_INDICATOR, evidence(1, outer, inner)).ok


@pytest.mark.parametrize("make, error", [
    (lambda: evidence(0, DOUBLE[0], DOUBLE[0]), string_error("two identical votes")),
    (lambda: evidence(0, VoteData(95, h("a"), 95, h("b")), DOUBLE[1]), string_error("srcNum bigger than tarNum")),
    (lambda: evidence(0, VoteData(90, h("s90"), 95, h("t95")), VoteData(91, h("s91"), 96, h("t96"))),
     string_error("no violation of vote rules")),
    (lambda: evidence(0, VoteData(1, h("s1"), 2, h("t2")), VoteData(1, h("s1"), 2, h("t2 other"))),
     None),  # old targets are evidence while within felonySlashScope (28800): see test_old_evidence_and_the_switch
    (lambda: selector_call(EVIDENCE, (vote(0, DOUBLE[0]), vote(0, DOUBLE[1]), bls.public_key(b"\x05" * 32))),
     string_error("voteAddr is not found")),
    (lambda: evidence(0, *DOUBLE, key_of=1), string_error("verify signature failed")),
], ids=["identical", "source not below target", "no violation", "old target in scope", "unknown key",
        "other's key"])
def test_evidence_refusals(staked, make, error):
    result = staked.send(SUBMITTER, SLASH_INDICATOR, make())
    if error is None:
        assert result.ok
    else:
        assert not result.ok and result.output == error


def test_old_evidence_and_the_switch():
    genesis = [GenesisValidator(VALIDATORS[i], vote_address=bls.public_key(VOTE_SECRETS[i])) for i in range(4)]
    sb = Sandbox(SystemParams(felony_slash_scope=60, check_vote_address_proof=1), validators=VALIDATORS[:4],
                 genesis_validators=genesis)
    for _ in range(100):
        sb.advance(1)
    old = evidence(0, VoteData(1, h("s1"), 40, h("t40")), VoteData(1, h("s1"), 40, h("t40 other")))
    assert sb.send(SUBMITTER, SLASH_INDICATOR, old).output == string_error("target block too old")
    off = Sandbox(SystemParams(enable_malicious_vote_slash=0), validators=VALIDATORS[:4], genesis_validators=genesis)
    result = off.send(SUBMITTER, SLASH_INDICATOR, evidence(0, *DOUBLE))
    assert result.output == string_error("malicious vote slash not enabled")
    assert off.view(SLASH_INDICATOR, "enableMaliciousVoteSlash()", returns=("bool",)) == (False,)


def test_vote_message_is_bscs_rlp_hash():
    data = DOUBLE[0]
    assert data.hash() == keccak(rlp.encode([90, h("s90"), 95, h("t95")]))


# --- finality rewards (ValidatorSet.distributeFinalityReward at the engine's 200th blocks) ---


def _reward_block(sb, weights):
    from consensus.system import finalize_block
    sb.engine.block_end = lambda state, hdr: finalize_block(state, hdr, in_turn=hdr.coinbase,
                                                             finality_weights=weights)
    header = sb.next_header()
    vm = sb._vm(header)
    sb.header = vm.finalize_block(vm.get_block()).block.header
    return sb.engine.last_block_end


@pytest.mark.parametrize("reward_balance, claimed", [(103 * ETHER, 3 * ETHER), (120 * ETHER, 5 * ETHER),
                                                      (100 * ETHER, 0)])
def test_finality_reward_pays_system_rewards_balance_above_100_bnb_by_weight(reward_balance, claimed):
    sb = Sandbox(PARAMS, validators=VALIDATORS[:4])
    assert sb.send(USERS[0].address, SYSTEM_REWARD, value=reward_balance).ok
    outsider = USERS[9].address
    weights = [(VALIDATORS[0], 3), (VALIDATORS[1], 1), (outsider, 4)]
    incoming = [sb.view(VALIDATOR_SET, "getIncoming(address)", v, returns=("uint256",))[0] for v in VALIDATORS[:2]]
    end = _reward_block(sb, weights)
    assert end.finality_reward == claimed
    assert sb.balance(SYSTEM_REWARD) == reward_balance - claimed
    after = [sb.view(VALIDATOR_SET, "getIncoming(address)", v, returns=("uint256",))[0] for v in VALIDATORS[:2]]
    assert [a - b for a, b in zip(after, incoming)] == [claimed * 3 // 8, claimed * 1 // 8]
    assert sb.view(VALIDATOR_SET, "getIncoming(address)", outsider, returns=("uint256",))[0] == 0
