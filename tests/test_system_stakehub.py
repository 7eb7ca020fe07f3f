"""StakeHub and its StakeCredit views through py-evm's real VM: BSC's functions, events, custom errors and share math.

Each test runs transactions on an in-memory chain built with consensus/seam.py (tests/systemkit.py Sandbox); expected
values are computed from BSC's formulas in the test, not copied from a run.
"""
import pytest
from eth._utils.address import generate_contract_address
from eth.exceptions import Revert, WriteProtection
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from consensus.system import DEAD_ADDRESS, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET, GenesisValidator, SystemParams
from consensus.system.credit import FORWARDER_CODE
from stakingabi import vote_key
from systemkit import ETHER, USERS, Sandbox, error_data, selector_call, string_error

CREATE = "createValidator(address,bytes,bytes,(uint64,uint64,uint64),(string,string,string,string))"
ALICE, BOB, CAROL, DAVE = (u.address for u in USERS[1:5])
ALICE_CONSENSUS = USERS[6].address
VOTE, PROOF = vote_key("alice", ALICE)   # StakeHub checks the BLS proof (0x66), as BSC
PARAMS = SystemParams(unbond_period=600, breathe_block_interval=3600, downtime_jail_time=7200)


def create_args(consensus=ALICE_CONSENSUS, vote=VOTE, proof=PROOF, commission=(500, 2000, 100), moniker="Alice"):
    return (consensus, vote, proof, commission, (moniker, "alice-id", "https://alice.example", "details"))


def create(sb: Sandbox, sender=ALICE, value=2_001 * ETHER, **changes):
    return sb.send(sender, STAKE_HUB, selector_call(CREATE, *create_args(**changes)), value=value)


def credit_of(sb: Sandbox, operator: bytes) -> bytes:
    [credit] = sb.view(STAKE_HUB, "getValidatorCreditContract(address)", operator, returns=("address",))
    return bytes.fromhex(credit[2:])


def pooled(sb: Sandbox, operator: bytes, holder: bytes) -> int:
    return sb.view(credit_of(sb, operator), "getPooledBNB(address)", holder, returns=("uint256",))[0]


def shares(sb: Sandbox, operator: bytes, holder: bytes) -> int:
    return sb.view(credit_of(sb, operator), "balanceOf(address)", holder, returns=("uint256",))[0]


def pool(sb: Sandbox, operator: bytes) -> tuple[int, int]:
    credit = credit_of(sb, operator)
    return (sb.view(credit, "totalPooledBNB()", returns=("uint256",))[0],
            sb.view(credit, "totalSupply()", returns=("uint256",))[0])


def event_args(result, emitter: bytes, signature: str, data_types: tuple[str, ...] = ()) -> list[tuple]:
    """(indexed topics as 32-byte words..., decoded data...) of each `signature` log from `emitter`."""
    topic = int.from_bytes(keccak(text=signature), "big")
    found = []
    for address, topics, data in result.logs:
        if address == emitter and topics[0] == topic:
            found.append(tuple(t.to_bytes(32, "big")[12:] for t in topics[1:]) + decode(list(data_types), data))
    return found


@pytest.fixture
def sb():
    return Sandbox(PARAMS)


# -- createValidator ---------------------------------------------------------------------------------------------

def test_create_validator_registers_pool_credit_contract_and_events(sb):
    hub_nonce = sb.state().get_nonce(STAKE_HUB)
    hub_before, alice_before = sb.balance(STAKE_HUB), sb.balance(ALICE)
    result = create(sb)
    assert result.ok, result.output.hex()

    ops, credits, total = sb.view(STAKE_HUB, "getValidators(uint256,uint256)", 0, 0,
                                  returns=("address[]", "address[]", "uint256"))
    assert total == 4 and ops[-1] == to_checksum_address(ALICE).lower()
    credit = generate_contract_address(STAKE_HUB, hub_nonce)       # where BSC's CREATE would have put it
    assert bytes.fromhex(credits[-1][2:]) == credit == credit_of(sb, ALICE)
    assert sb.state().get_code(credit) == FORWARDER_CODE
    assert sb.balance(STAKE_HUB) == hub_before + 2_001 * ETHER
    assert sb.balance(ALICE) == alice_before - 2_001 * ETHER           # gas price 0 in the sandbox

    assert sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", ALICE, returns=("uint256", "bool", "uint256")) \
        == (sb.time, False, 0)
    assert sb.view(STAKE_HUB, "getValidatorConsensusAddress(address)", ALICE, returns=("address",))[0] \
        == to_checksum_address(ALICE_CONSENSUS).lower()
    assert sb.view(STAKE_HUB, "getValidatorVoteAddress(address)", ALICE, returns=("bytes",)) == (VOTE,)
    assert sb.view(STAKE_HUB, "getValidatorCommission(address)", ALICE, returns=("(uint64,uint64,uint64)",)) \
        == ((500, 2000, 100),)
    assert sb.view(STAKE_HUB, "getValidatorDescription(address)", ALICE,
                   returns=("(string,string,string,string)",)) == (create_args()[4],)
    assert sb.view(STAKE_HUB, "consensusToOperator(address)", ALICE_CONSENSUS, returns=("address",))[0] \
        == to_checksum_address(ALICE).lower()
    assert sb.view(STAKE_HUB, "voteToOperator(bytes)", VOTE, returns=("address",))[0] \
        == to_checksum_address(ALICE).lower()

    # 1 BNB is locked as 0x…dEaD's shares, one share per wei at creation
    assert pool(sb, ALICE) == (2_001 * ETHER, 2_001 * ETHER)
    assert shares(sb, ALICE, ALICE) == 2_000 * ETHER and shares(sb, ALICE, DEAD_ADDRESS) == ETHER
    assert sb.view(credit, "name()", returns=("string",)) == ("Stake Alice Credit",)
    assert sb.view(credit, "symbol()", returns=("string",)) == ("stAlice",)
    assert sb.view(credit, "validator()", returns=("address",))[0] == to_checksum_address(ALICE).lower()

    assert result.topics(STAKE_HUB) == [keccak(text=s) for s in (
        "StakeCreditInitialized(address,address)", "ValidatorCreated(address,address,address,bytes)",
        "Delegated(address,address,uint256,uint256)", "Delegated(address,address,uint256,uint256)")]
    assert event_args(result, STAKE_HUB, "ValidatorCreated(address,address,address,bytes)", ("bytes",)) \
        == [(ALICE_CONSENSUS, ALICE, credit, VOTE)]
    assert event_args(result, STAKE_HUB, "Delegated(address,address,uint256,uint256)", ("uint256", "uint256")) \
        == [(ALICE, ALICE, 2_000 * ETHER, 2_000 * ETHER), (ALICE, DEAD_ADDRESS, ETHER, ETHER)]


@pytest.mark.parametrize("changes, value, error", [
    (dict(consensus=bytes(20)), 2_001 * ETHER, error_data("InvalidConsensusAddress()")),
    (dict(), 2_000 * ETHER, error_data("SelfDelegationNotEnough()")),
    (dict(), ETHER // 2, error_data("Panic(uint256)", 0x11)),    # msg.value - LOCK_AMOUNT underflows
    (dict(commission=(0, 5001, 0)), 2_001 * ETHER, error_data("InvalidCommission()")),
    (dict(commission=(600, 500, 0)), 2_001 * ETHER, error_data("InvalidCommission()")),
    (dict(commission=(0, 500, 600)), 2_001 * ETHER, error_data("InvalidCommission()")),
    (dict(moniker="alice"), 2_001 * ETHER, error_data("InvalidMoniker()")),
    (dict(moniker="Al"), 2_001 * ETHER, error_data("InvalidMoniker()")),
    (dict(moniker="Alicealice"), 2_001 * ETHER, error_data("InvalidMoniker()")),
    (dict(moniker="Ali-ce"), 2_001 * ETHER, error_data("InvalidMoniker()")),
    (dict(vote=b"\x11" * 47), 2_001 * ETHER, error_data("InvalidVoteAddress()")),
    (dict(proof=PROOF[:95]), 2_001 * ETHER, error_data("InvalidVoteAddress()")),
    (dict(proof=vote_key("alice", BOB)[1]), 2_001 * ETHER, error_data("InvalidVoteAddress()")),      # Bob's proof
    (dict(proof=vote_key("alice", ALICE, 56)[1]), 2_001 * ETHER, error_data("InvalidVoteAddress()")),  # BSC's id
])
def test_create_validator_refusals(sb, changes, value, error):
    before = sb.balance(ALICE), sb.balance(STAKE_HUB)
    result = create(sb, value=value, **changes)
    assert not result.ok and result.output == error
    assert (sb.balance(ALICE), sb.balance(STAKE_HUB)) == before      # the value came back
    assert sb.view(STAKE_HUB, "getValidators(uint256,uint256)", 0, 0,
                   returns=("address[]", "address[]", "uint256"))[2] == 3


@pytest.mark.parametrize("sender, changes, error", [
    (ALICE, dict(consensus=USERS[7].address, vote=b"\x33" * 48, moniker="Other"), "ValidatorExisted()"),
    (BOB, dict(vote=b"\x33" * 48, moniker="Other"), "DuplicateConsensusAddress()"),
    (BOB, dict(consensus=USERS[7].address, moniker="Other"), "DuplicateVoteAddress()"),
    (BOB, dict(consensus=USERS[7].address, vote=b"\x33" * 48), "DuplicateMoniker()"),
])
def test_create_validator_refuses_duplicates(sb, sender, changes, error):
    assert create(sb).ok
    result = create(sb, sender=sender, **changes)
    assert not result.ok and result.output == error_data(error)


def test_uninitialised_contracts_revert_as_bsc_before_init():
    sb = Sandbox(system=False)
    result = create(sb)
    assert not result.ok and result.output == string_error("the contract not init yet")
    assert not sb.call(VALIDATOR_SET, selector_call("getValidators()")).ok


# -- delegate, undelegate, claim ---------------------------------------------------------------------------------

def test_delegate_mints_shares_at_the_pool_price(sb):
    create(sb)
    before_pooled, before_supply = pool(sb, ALICE)
    result = sb.send(BOB, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=10 * ETHER)
    assert result.ok
    expected = 10 * ETHER * before_supply // before_pooled
    assert shares(sb, ALICE, BOB) == expected
    assert pool(sb, ALICE) == (before_pooled + 10 * ETHER, before_supply + expected)
    assert event_args(result, STAKE_HUB, "Delegated(address,address,uint256,uint256)", ("uint256", "uint256")) \
        == [(ALICE, BOB, expected, 10 * ETHER)]


@pytest.mark.parametrize("operator, value, error", [
    (CAROL, 10 * ETHER, error_data("ValidatorNotExisted()")),
    (ALICE, ETHER - 1, error_data("DelegationAmountTooSmall()")),
])
def test_delegate_refusals(sb, operator, value, error):
    create(sb)
    result = sb.send(BOB, STAKE_HUB, selector_call("delegate(address,bool)", operator, True), value=value)
    assert not result.ok and result.output == error


def test_value_to_a_non_payable_function_or_unknown_selector_reverts_empty(sb):
    create(sb)
    for data in (selector_call("undelegate(address,uint256)", ALICE, 1), bytes.fromhex("deadbeef"), b""):
        result = sb.send(BOB, STAKE_HUB, data, value=ETHER)
        assert not result.ok and result.output == b""
    short = selector_call("undelegate(address,uint256)", ALICE, 1)[:20]   # does not decode
    result = sb.send(BOB, STAKE_HUB, short)
    assert not result.ok and result.output == b""


def test_undelegate_then_claim_after_the_unbonding_period(sb):
    create(sb)
    sb.send(BOB, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=10 * ETHER)
    bob_shares = shares(sb, ALICE, BOB)
    pooled_before, supply_before = pool(sb, ALICE)
    worth = bob_shares * pooled_before // supply_before

    result = sb.send(BOB, STAKE_HUB, selector_call("undelegate(address,uint256)", ALICE, bob_shares))
    assert result.ok
    assert event_args(result, STAKE_HUB, "Undelegated(address,address,uint256,uint256)", ("uint256", "uint256")) \
        == [(ALICE, BOB, bob_shares, worth)]
    credit = credit_of(sb, ALICE)
    unlock = sb.time + PARAMS.unbond_period
    assert sb.view(credit, "pendingUnbondRequest(address)", BOB, returns=("uint256",)) == (1,)
    assert sb.view(credit, "claimableUnbondRequest(address)", BOB, returns=("uint256",)) == (0,)
    assert sb.view(credit, "unbondRequest(address,uint256)", BOB, 0, returns=("(uint256,uint256,uint256)",)) \
        == ((bob_shares, worth, unlock),)
    assert sb.view(credit, "lockedBNBs(address,uint256)", BOB, 0, returns=("uint256",)) == (worth,)
    assert shares(sb, ALICE, BOB) == 0 and pool(sb, ALICE) == (pooled_before - worth, supply_before - bob_shares)

    early = sb.send(BOB, STAKE_HUB, selector_call("claim(address,uint256)", ALICE, 0))
    assert not early.ok and early.output == error_data("NoClaimableUnbondRequest()")
    nothing = sb.send(CAROL, STAKE_HUB, selector_call("claim(address,uint256)", ALICE, 0))
    assert not nothing.ok and nothing.output == error_data("NoUnbondRequest()")

    sb.advance(PARAMS.unbond_period)
    assert sb.view(credit, "claimableUnbondRequest(address)", BOB, returns=("uint256",)) == (1,)
    bob_before, hub_before = sb.balance(BOB), sb.balance(STAKE_HUB)
    claimed = sb.send(BOB, STAKE_HUB, selector_call("claim(address,uint256)", ALICE, 0))
    assert claimed.ok
    assert sb.balance(BOB) == bob_before + worth and sb.balance(STAKE_HUB) == hub_before - worth
    assert event_args(claimed, STAKE_HUB, "Claimed(address,address,uint256)", ("uint256",)) == [(ALICE, BOB, worth)]
    assert sb.view(credit, "pendingUnbondRequest(address)", BOB, returns=("uint256",)) == (0,)


def test_undelegate_refusals(sb):
    create(sb)
    zero = sb.send(BOB, STAKE_HUB, selector_call("undelegate(address,uint256)", ALICE, 0))
    assert zero.output == error_data("ZeroShares()")
    too_many = sb.send(BOB, STAKE_HUB, selector_call("undelegate(address,uint256)", ALICE, 1))
    assert too_many.output == error_data("InsufficientBalance()")
    batch = sb.send(BOB, STAKE_HUB, selector_call("claimBatch(address[],uint256[])", [ALICE], []))
    assert batch.output == error_data("InvalidRequest()")


def test_self_undelegation_below_the_minimum_jails_and_unjail_needs_stake_and_time():
    sb = Sandbox(PARAMS)
    validator = sb.validators[0]
    keep = 1_000 * ETHER                                  # below the 2000 BNB minimum once the rest leaves
    result = sb.send(validator, STAKE_HUB, selector_call("undelegate(address,uint256)", validator,
                                                         shares(sb, validator, validator) - keep))
    assert result.ok
    assert event_args(result, STAKE_HUB, "ValidatorJailed(address)") == [(validator,)]
    jail_until = sb.time + PARAMS.downtime_jail_time
    assert sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", validator,
                   returns=("uint256", "bool", "uint256"))[1:] == (True, jail_until)
    assert sb.view(STAKE_HUB, "numOfJailed()", returns=("uint256",)) == (1,)
    [current] = sb.view(VALIDATOR_SET, "getValidators()", returns=("address[]",))
    assert "0x" + validator.hex() not in current and len(current) == 2

    # jailed: only the operator may delegate; unjail needs the minimum self-stake and the jail term served
    delegate = selector_call("delegate(address,bool)", validator, False)
    assert sb.send(BOB, STAKE_HUB, delegate, value=ETHER).output == error_data("OnlySelfDelegation()")
    unjail = selector_call("unjail(address)", validator)
    assert sb.send(BOB, STAKE_HUB, unjail).output == error_data("SelfDelegationNotEnough()")
    assert sb.send(validator, STAKE_HUB, delegate, value=1_500 * ETHER).ok
    assert sb.send(BOB, STAKE_HUB, unjail).output == error_data("JailTimeNotExpired()")
    sb.advance(PARAMS.downtime_jail_time)
    unjailed = sb.send(BOB, STAKE_HUB, unjail)
    assert unjailed.ok and event_args(unjailed, STAKE_HUB, "ValidatorUnjailed(address)") == [(validator,)]
    assert sb.view(STAKE_HUB, "numOfJailed()", returns=("uint256",)) == (0,)
    assert sb.send(BOB, STAKE_HUB, unjail).output == error_data("ValidatorNotJailed()")


def test_redelegate_moves_shares_and_pays_the_fee_to_the_target_pool(sb):
    create(sb)
    bob = sb.validators[0]
    sb.send(CAROL, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=100 * ETHER)
    moved = shares(sb, ALICE, CAROL) // 2
    src_pooled, src_supply = pool(sb, ALICE)
    dst_pooled, dst_supply = pool(sb, bob)
    amount = moved * src_pooled // src_supply
    fee = amount * PARAMS.redelegate_fee_rate // 100_000
    new_shares = (amount - fee) * dst_supply // (dst_pooled + fee)

    result = sb.send(CAROL, STAKE_HUB, selector_call("redelegate(address,address,uint256,bool)", ALICE, bob, moved,
                                                     False))
    assert result.ok
    assert event_args(result, STAKE_HUB, "Redelegated(address,address,address,uint256,uint256,uint256)",
                      ("uint256", "uint256", "uint256")) == [(ALICE, bob, CAROL, moved, new_shares, amount - fee)]
    assert shares(sb, bob, CAROL) == new_shares
    assert pool(sb, bob) == (dst_pooled + amount, dst_supply + new_shares)
    same = sb.send(CAROL, STAKE_HUB, selector_call("redelegate(address,address,uint256,bool)", ALICE, ALICE, 1,
                                                   False))
    assert same.output == error_data("SameValidator()")


def test_edit_commission_rate_once_per_interval_within_max_change(sb):
    create(sb)
    edit = lambda rate: sb.send(ALICE, STAKE_HUB, selector_call("editCommissionRate(uint64)", rate))  # noqa: E731
    assert edit(550).output == error_data("UpdateTooFrequently()")
    sb.advance(PARAMS.breathe_block_interval)
    assert edit(601).output == error_data("InvalidCommission()")       # moves more than maxChangeRate 100
    assert edit(2001).output == error_data("InvalidCommission()")      # above maxRate
    result = edit(600)
    assert result.ok
    assert event_args(result, STAKE_HUB, "CommissionRateEdited(address,uint64)", ("uint64",)) == [(ALICE, 600)]
    assert sb.view(STAKE_HUB, "getValidatorCommission(address)", ALICE, returns=("(uint64,uint64,uint64)",)) \
        == ((600, 2000, 100),)
    assert edit(650).output == error_data("UpdateTooFrequently()")
    assert sb.send(BOB, STAKE_HUB, selector_call("editCommissionRate(uint64)", 1)).output \
        == error_data("ValidatorNotExisted()")


def test_views_and_parameter_getters(sb):
    create(sb)
    ops, credits, total = sb.view(STAKE_HUB, "getValidators(uint256,uint256)", 1, 2,
                                  returns=("address[]", "address[]", "uint256"))
    assert total == 4 and len(ops) == len(credits) == 2
    assert sb.view(STAKE_HUB, "getValidators(uint256,uint256)", 9, 0,
                   returns=("address[]", "address[]", "uint256")) == ((), (), 4)
    consensus, powers, votes, total = sb.view(STAKE_HUB, "getValidatorElectionInfo(uint256,uint256)", 0, 0,
                                              returns=("address[]", "uint256[]", "bytes[]", "uint256"))
    assert total == 4 and powers[-1] == 2_001 * ETHER and votes[-1] == VOTE
    assert sb.view(STAKE_HUB, "unbondPeriod()", returns=("uint256",)) == (PARAMS.unbond_period,)
    assert sb.view(STAKE_HUB, "minSelfDelegationBNB()", returns=("uint256",)) == (PARAMS.min_self_delegation,)
    assert sb.view(STAKE_HUB, "maxElectedValidators()", returns=("uint256",)) == (PARAMS.max_elected_validators,)
    assert sb.view(STAKE_HUB, "LOCK_AMOUNT()", returns=("uint256",)) == (ETHER,)
    assert sb.view(STAKE_HUB, "DEAD_ADDRESS()", returns=("address",))[0] == "0x" + DEAD_ADDRESS.hex()
    unknown = sb.call(STAKE_HUB, selector_call("getValidatorDescription(address)", CAROL))
    assert not unknown.ok and unknown.output == error_data("ValidatorNotExisted()")
    assert sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", CAROL, returns=("uint256", "bool", "uint256")) \
        == (0, False, 0)


def test_credit_shares_cannot_move_and_credit_refuses_plain_transfers(sb):
    create(sb)
    credit = credit_of(sb, ALICE)
    transfer = sb.send(ALICE, credit, selector_call("transfer(address,uint256)", BOB, 1))
    assert not transfer.ok and transfer.output == error_data("TransferNotAllowed()")
    approve = sb.send(ALICE, credit, selector_call("approve(address,uint256)", BOB, 1))
    assert approve.output == error_data("ApproveNotAllowed()")
    before = sb.balance(BOB)
    paid = sb.send(BOB, credit, b"", value=ETHER)
    assert not paid.ok and sb.balance(BOB) == before
    system_only = sb.send(BOB, credit, selector_call("slash(uint256)", 1))
    assert system_only.output == error_data("OnlySystemContract(address)", STAKE_HUB)


def test_out_of_gas_leaves_nothing_behind(sb):
    result = sb.send(ALICE, STAKE_HUB, selector_call(CREATE, *create_args()), value=2_001 * ETHER, gas=120_000)
    assert not result.ok and type(result.computation.error).__name__ == "OutOfGas"
    assert sb.view(STAKE_HUB, "getValidators(uint256,uint256)", 0, 0,
                   returns=("address[]", "address[]", "uint256"))[2] == 3


# -- called from contracts ---------------------------------------------------------------------------------------

def _forwarder(opcode: int, with_value: bool) -> bytes:
    """Runtime code that forwards its calldata (and value) to StakeHub with CALL/DELEGATECALL and relays the answer."""
    call = bytes([0x5F, 0x5F, 0x36, 0x5F]) + (b"\x34" if with_value else b"") + bytes.fromhex("6120025a") + \
        bytes([opcode])
    body = bytes.fromhex("365f5f37") + call + bytes.fromhex("3d5f5f3e")
    dest = len(body) + 6
    return body + bytes([0x60, dest, 0x57]) + bytes.fromhex("3d5ffd5b3d5ff3")


CALLER = bytes.fromhex("c0" * 20)
DELEGATOR = bytes.fromhex("de" * 20)
STATIC = bytes.fromhex("57" * 20)


def test_contracts_reach_the_system_contracts_with_call_staticcall_and_not_delegatecall():
    validators = Sandbox().validators
    # the STATICCALL forwarder is also the operator of a genesis validator, so it has shares a write could burn
    sb = Sandbox(PARAMS, validators=validators,
                 genesis_validators=[GenesisValidator(validators[0], operator=STATIC)] +
                 [GenesisValidator(v) for v in validators[1:]],
                 contracts={CALLER: _forwarder(0xF1, True), DELEGATOR: _forwarder(0xF4, False),
                            STATIC: FORWARDER_CODE})
    target = validators[1]
    via_contract = sb.send(BOB, CALLER, selector_call("delegate(address,bool)", target, False), value=5 * ETHER)
    assert via_contract.ok
    assert shares(sb, target, CALLER) > 0 and shares(sb, target, BOB) == 0     # msg.sender is the contract
    # a view through STATICCALL answers; a write through it fails as an SSTORE would: write protection
    view = sb.call(STATIC, selector_call("getValidators(uint256,uint256)", 0, 0))
    assert view.ok and decode(["address[]", "address[]", "uint256"], view.output)[2] == 3
    write = sb.send(BOB, STATIC, selector_call("undelegate(address,uint256)", STATIC, 1))
    [inner] = write.computation.children
    assert not write.ok and isinstance(inner.error, WriteProtection)
    assert shares(sb, STATIC, STATIC) == PARAMS.genesis_stake - ETHER
    # DELEGATECALL would run StakeHub on the caller's storage: refused with an empty revert
    delegated = sb.send(BOB, DELEGATOR, selector_call("getValidators(uint256,uint256)", 0, 0))
    [inner] = delegated.computation.children
    assert not delegated.ok and isinstance(inner.error, Revert) and inner.output == b""


def test_system_reward_takes_deposits_and_refuses_claims(sb):
    result = sb.send(BOB, SYSTEM_REWARD, b"", value=3 * ETHER)
    assert result.ok and sb.balance(SYSTEM_REWARD) == 3 * ETHER
    assert event_args(result, SYSTEM_REWARD, "receiveDeposit(address,uint256)", ("uint256",)) == [(BOB, 3 * ETHER)]
    claim = sb.send(BOB, SYSTEM_REWARD, selector_call("claimRewards(address,uint256)", BOB, ETHER))
    assert claim.output == string_error("only operator is allowed to call the method")
    assert sb.view(SYSTEM_REWARD, "isOperator(address)", BOB, returns=("bool",)) == (False,)
