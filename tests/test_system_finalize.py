"""Block-end rules (consensus/system/finalize.py) run by py-evm's own block-end hook on the Parlia VM.

Fees collect at 0xffff…fffe during the block and are split by ValidatorSet.deposit; missed blocks count toward
misdemeanor and felony; breathe blocks pay rewards into the pools and decay the counters; epoch blocks set the
current validators; the election ranks by stake. Expected values are computed from BSC's formulas here.
"""
import pytest
from eth_utils import to_checksum_address

from consensus.header import DIFF_NO_TURN
from consensus.system import (
    DEAD_ADDRESS, SLASH_INDICATOR, STAKE_HUB, SYSTEM_ADDRESS, SYSTEM_REWARD, VALIDATOR_SET, GenesisValidator,
    SystemParams, elect, epoch_set,
)
from consensus.system.credit import total_unbonding
from consensus.system.runtime import Env
from systemkit import ETHER, GWEI, USERS, Sandbox, selector_call
from test_system_stakehub import CREATE, create_args, credit_of, pool, pooled, shares

ALICE, BOB, CAROL, DAVE = (u.address for u in USERS[1:5])
PARAMS = SystemParams(unbond_period=600, breathe_block_interval=3600, downtime_jail_time=7200)


def transfer(sender: bytes, price: int, to: bytes = DAVE, value: int = 1) -> dict:
    return dict(sender=sender, to=to, value=value, gas=21_000, gas_price=price)


def incoming(sb: Sandbox, validator: bytes) -> int:
    return sb.view(VALIDATOR_SET, "getIncoming(address)", validator, returns=("uint256",))[0]


def current(sb: Sandbox) -> list[bytes]:
    [addresses] = sb.view(VALIDATOR_SET, "getValidators()", returns=("address[]",))
    return [bytes.fromhex(a[2:]) for a in addresses]


def indicator(sb: Sandbox, validator: bytes) -> tuple[int, int]:
    return sb.view(SLASH_INDICATOR, "getSlashIndicator(address)", validator, returns=("uint256", "uint256"))


def basic_info(sb: Sandbox, operator: bytes) -> tuple[int, bool, int]:
    return sb.view(STAKE_HUB, "getValidatorBasicInfo(address)", operator, returns=("uint256", "bool", "uint256"))


@pytest.fixture
def sb():
    return Sandbox(PARAMS)


# -- fees ----------------------------------------------------------------------------------------------------------

def test_block_fees_are_split_between_system_reward_burn_and_the_sealers_incoming(sb):
    sealer = sb.validators[1]
    before = {a: sb.balance(a) for a in (sealer, SYSTEM_REWARD, DEAD_ADDRESS, VALIDATOR_SET)}
    prices = (GWEI, 3 * GWEI, 7 * GWEI)
    end, results = sb.block([transfer(u, p) for u, p in zip((ALICE, BOB, CAROL), prices)], coinbase=sealer)
    assert all(r.ok for r in results)
    fees = 21_000 * sum(prices)
    to_system_reward = fees * PARAMS.system_reward_ratio // 10_000
    burned = fees * PARAMS.burn_ratio // 10_000
    assert (end.fees, end.to_system_reward, end.burned) == (fees, to_system_reward, burned)
    assert sb.balance(SYSTEM_REWARD) - before[SYSTEM_REWARD] == to_system_reward
    assert sb.balance(DEAD_ADDRESS) - before[DEAD_ADDRESS] == burned
    assert incoming(sb, sealer) == fees - to_system_reward - burned
    assert sb.balance(VALIDATOR_SET) - before[VALIDATOR_SET] == fees - to_system_reward - burned
    assert sb.view(VALIDATOR_SET, "totalInComing()", returns=("uint256",)) == (incoming(sb, sealer),)
    assert sb.balance(sealer) == before[sealer]          # the sealer's reward waits for the breathe block
    assert not sb.state().account_exists(SYSTEM_ADDRESS)  # emptied and removed, as EIP-158 does on BSC


def test_the_fee_moved_is_what_the_sender_paid_with_refunds_and_the_calldata_floor():
    clearer = bytes(20 * [0xC2])   # runtime code: PUSH0 PUSH0 SSTORE STOP, clearing slot 0 (a refund)
    sb = Sandbox(PARAMS, contracts={clearer: (bytes.fromhex("5f5f5500"), {0: 1})})
    sealer = sb.validators[0]
    senders = (ALICE, BOB)
    before = {a: sb.balance(a) for a in senders + (sealer,)}
    end, results = sb.block([
        dict(sender=ALICE, to=clearer, gas=60_000, gas_price=3 * GWEI),
        dict(sender=BOB, to=DAVE, data=b"\xff" * 2_000, gas=200_000, gas_price=2 * GWEI),   # EIP-7623 floor
    ], coinbase=sealer)
    assert all(r.ok for r in results) and results[0].computation.get_gas_refund() > 0
    paid = sum(before[a] - sb.balance(a) for a in senders)
    assert end.fees == paid and sb.balance(sealer) == before[sealer]


def test_without_staking_contracts_the_sealer_keeps_the_fees():
    sb = Sandbox(system=False)
    sealer = sb.validators[0]
    before = sb.balance(sealer)
    end, _ = sb.block([transfer(ALICE, 2 * GWEI)], coinbase=sealer)
    assert end.fees == 0 and sb.balance(sealer) == before + 21_000 * 2 * GWEI
    assert not sb.state().account_exists(SYSTEM_ADDRESS)


def test_coinbase_opcode_still_reads_the_sealer():
    probe = bytes(20 * [0xC1])   # runtime code: COINBASE PUSH0 MSTORE PUSH1 32 PUSH0 RETURN
    sb = Sandbox(PARAMS, contracts={probe: bytes.fromhex("415f5260205ff3")})
    sealer = sb.validators[2]
    _, [result] = sb.block([dict(sender=ALICE, to=probe, gas=50_000, gas_price=GWEI)], coinbase=sealer)
    assert result.ok and result.output[12:] == sealer


# -- breathe blocks: rewards into the pools ------------------------------------------------------------------------

def test_breathe_block_pays_incoming_as_commission_and_a_higher_share_price(sb):
    validator = sb.validators[0]
    sb.send(BOB, STAKE_HUB, selector_call("delegate(address,bool)", validator, False), value=1_000 * ETHER)
    bob_shares = shares(sb, validator, BOB)
    sb.block([transfer(ALICE, 50 * GWEI), transfer(CAROL, 80 * GWEI)], coinbase=validator)
    reward = incoming(sb, validator)
    rate = sb.view(STAKE_HUB, "getValidatorCommission(address)", validator, returns=("(uint64,uint64,uint64)",))[0][0]
    pooled_before, supply_before = pool(sb, validator)
    operator_before = shares(sb, validator, validator)

    end, _ = sb.block(coinbase=validator, seconds=PARAMS.breathe_block_interval)
    assert end.breathe
    commission = reward * rate // 10_000
    minted = commission * supply_before // (pooled_before + reward - commission)
    assert pool(sb, validator) == (pooled_before + reward, supply_before + minted)
    assert shares(sb, validator, validator) == operator_before + minted
    assert incoming(sb, validator) == 0 and sb.balance(VALIDATOR_SET) == 0

    # Bob's claim grows by his share of the reward after commission (to rounding), and he can take it out
    worth = bob_shares * (pooled_before + reward) // (supply_before + minted)
    assert pooled(sb, validator, BOB) == worth
    assert abs((worth - 1_000 * ETHER) - (reward - commission) * bob_shares // supply_before) <= 1
    undelegated = sb.send(BOB, STAKE_HUB, selector_call("undelegate(address,uint256)", validator, bob_shares))
    assert undelegated.ok
    sb.advance(PARAMS.unbond_period)
    before = sb.balance(BOB)
    assert sb.send(BOB, STAKE_HUB, selector_call("claim(address,uint256)", validator, 0)).ok
    assert sb.balance(BOB) == before + worth


def test_fees_of_a_sealer_outside_the_current_set_go_to_system_reward_at_breathe(sb):
    outsider = USERS[9].address
    end, _ = sb.block([transfer(ALICE, 10 * GWEI)], coinbase=outsider)
    rest = end.fees - end.to_system_reward - end.burned
    assert incoming(sb, outsider) == 0 and sb.balance(VALIDATOR_SET) == rest
    before = sb.balance(SYSTEM_REWARD)
    sb.block(seconds=PARAMS.breathe_block_interval)
    assert sb.balance(VALIDATOR_SET) == 0 and sb.balance(SYSTEM_REWARD) == before + rest


# -- missed blocks -------------------------------------------------------------------------------------------------

def test_missed_blocks_count_to_misdemeanor_then_felony_jail_and_slash():
    sb = Sandbox(SystemParams(downtime_jail_time=7200))
    a, b, c = sb.validators
    sb.block([transfer(ALICE, 100 * GWEI)], coinbase=b)      # b has incoming to lose
    b_income, a_income, c_income = incoming(sb, b), incoming(sb, a), incoming(sb, c)
    assert b_income > 0

    end, _ = sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)
    assert end.missed == b and indicator(sb, b) == (sb.header.block_number, 1)
    end, _ = sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b, signed_recently=True)
    assert end.missed is None and indicator(sb, b)[1] == 1           # it could not have sealed: no miss
    end, _ = sb.block(coinbase=c, in_turn=c)
    assert end.missed is None                                        # in turn: nobody missed

    for _ in range(48):
        sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)
    assert indicator(sb, b)[1] == 49 and incoming(sb, b) == b_income
    sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)         # the 50th: misdemeanor
    assert indicator(sb, b)[1] == 50 and incoming(sb, b) == 0
    assert incoming(sb, a) == a_income + b_income // 2 and incoming(sb, c) == c_income + b_income // 2
    assert b in current(sb) and basic_info(sb, b)[1] is False

    self_stake, system_reward = pooled(sb, b, b), sb.balance(SYSTEM_REWARD)
    for _ in range(99):
        sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)
    assert indicator(sb, b)[1] == 149 and b in current(sb)
    sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)         # the 150th: felony
    assert indicator(sb, b)[1] == 0
    assert current(sb) == [a, c]
    assert basic_info(sb, b)[1:] == (True, sb.time + 7200)
    assert pooled(sb, b, b) == self_stake - PARAMS.downtime_slash_amount
    assert sb.balance(SYSTEM_REWARD) == system_reward + PARAMS.downtime_slash_amount
    assert [v.address for v in elect(sb.state())] == [a, c]          # out of the next election


def test_a_missed_block_of_a_validator_outside_the_set_counts_nothing(sb):
    outsider = USERS[9].address
    end, _ = sb.block(coinbase=sb.validators[0], difficulty=DIFF_NO_TURN, in_turn=outsider)
    assert end.missed == outsider and indicator(sb, outsider) == (0, 0)


def test_counters_decay_by_a_quarter_of_the_felony_threshold_at_breathe(sb):
    a, b, c = sb.validators
    for _ in range(40):
        sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=b)
    for _ in range(30):
        sb.block(coinbase=a, difficulty=DIFF_NO_TURN, in_turn=c)
    height = indicator(sb, b)[0]
    end, _ = sb.block(coinbase=a, seconds=PARAMS.breathe_block_interval)
    assert end.breathe
    decrease = PARAMS.felony_threshold // 4
    assert indicator(sb, b) == (height, 40 - decrease)
    assert indicator(sb, c) == (0, 0)                                 # at or below the decrease: forgotten
    assert sb.view(SLASH_INDICATOR, "validators(uint256)", 0, returns=("address",))[0] == "0x" + b.hex()


def test_a_transaction_cannot_apply_block_end_work(sb):
    for to, data in ((SLASH_INDICATOR, selector_call("slash(address)", sb.validators[0])),
                     (VALIDATOR_SET, selector_call("deposit(address)", sb.validators[0]))):
        result = sb.send(ALICE, to, data)
        assert not result.ok and b"the message sender must be the block producer" in result.output


# -- epoch: election and the current set ---------------------------------------------------------------------------

def test_election_ranks_by_stake_then_checksummed_address_and_skips_jailed_and_underfunded():
    genesis = Sandbox().validators
    params = SystemParams(max_elected_validators=3, downtime_jail_time=7200)
    sb = Sandbox(params, validators=genesis,
                 genesis_validators=[GenesisValidator(genesis[0], stake=25_000 * ETHER)] +
                 [GenesisValidator(v) for v in genesis[1:]])
    assert [v.address for v in elect(sb.state())] == sorted(genesis)

    newcomer = USERS[6].address
    assert sb.send(ALICE, STAKE_HUB, selector_call(CREATE, *create_args(consensus=newcomer)),
                   value=2_001 * ETHER).ok
    sb.send(BOB, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=8_000 * ETHER)
    sb.send(CAROL, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=9_000 * ETHER)
    # power: genesis[0] 25000, newcomer 19001, genesis[1] and [2] 20001 each: ties broken by checksummed address
    tied = sorted(genesis[1:], key=to_checksum_address)
    assert [v.address for v in elect(sb.state())] == sorted([genesis[0], tied[0], tied[1]])
    sb.send(DAVE, STAKE_HUB, selector_call("delegate(address,bool)", ALICE, False), value=2_000 * ETHER)
    elected = elect(sb.state())
    assert [v.address for v in elected] == sorted([genesis[0], newcomer, tied[0]])
    assert {v.address: v.vote_address for v in elected}[newcomer] == create_args()[1]

    # own stake below the minimum: jailed by StakeHub, so out; and out by the stake rule alone too
    own = shares(sb, ALICE, ALICE)
    sb.send(ALICE, STAKE_HUB, selector_call("undelegate(address,uint256)", ALICE, own - 1_000 * ETHER))
    assert basic_info(sb, ALICE)[1] is True
    assert newcomer not in [v.address for v in elect(sb.state())]
    unjailed = sb.state()
    Env(unjailed).storage(STAKE_HUB).set("val.jailed", ALICE, 0)   # as if governance had lowered the minimum
    assert newcomer not in [v.address for v in elect(unjailed)]

    # what the engine's election hook answers; None on a chain without the staking contracts
    assert epoch_set(sb.state()).validators == elect(sb.state()) and epoch_set(sb.state()).turn_length == 1
    assert epoch_set(Sandbox(system=False).state()) is None

    # the epoch block names the elected set; finalize makes it the current set
    end, _ = sb.block(coinbase=genesis[0], epoch_validators=[v.address for v in elect(sb.state())])
    assert end.epoch and current(sb) == sorted([genesis[0], tied[0], tied[1]])
    assert sb.view(VALIDATOR_SET, "getMiningValidators()", returns=("address[]", "bytes[]"))[0] == tuple(
        "0x" + a.hex() for a in current(sb))


# -- conservation ----------------------------------------------------------------------------------------------------

def test_balances_plus_stake_plus_burned_equal_the_genesis_supply_over_a_run():
    params = SystemParams(unbond_period=5, breathe_block_interval=20, misdemeanor_threshold=3, felony_threshold=6,
                          downtime_jail_time=30, redelegate_fee_rate=50)
    sb = Sandbox(params)
    a, b, c = sb.validators
    assert sb.send(ALICE, STAKE_HUB, selector_call(CREATE, *create_args(consensus=USERS[6].address)),
                   value=3_000 * ETHER).ok
    users = [u.address for u in USERS[2:6]]
    burned = 0
    for n in range(60):
        txs = [transfer(users[(n + i) % 4], (n % 5 + 1) * GWEI, to=users[(n + i + 1) % 4], value=n) for i in range(3)]
        sender = users[n % 4]
        if n % 7 == 0:
            txs.append(dict(sender=sender, to=STAKE_HUB, data=selector_call("delegate(address,bool)", [a, ALICE][n % 2],
                                                                             False), value=(n + 1) * ETHER,
                            gas_price=GWEI))
        if n % 11 == 5 and shares(sb, a, sender):
            txs.append(dict(sender=sender, to=STAKE_HUB, gas_price=2 * GWEI, data=selector_call(
                "undelegate(address,uint256)", a, shares(sb, a, sender) // 2)))
        if n % 13 == 12:
            txs.append(dict(sender=sender, to=STAKE_HUB, gas_price=GWEI,
                            data=selector_call("claim(address,uint256)", a, 0)))
        if n % 17 == 3 and shares(sb, ALICE, sender):
            txs.append(dict(sender=sender, to=STAKE_HUB, gas_price=GWEI, data=selector_call(
                "redelegate(address,address,uint256,bool)", ALICE, c, shares(sb, ALICE, sender), False)))
        missed = n % 4 == 3
        end, _ = sb.block(txs, coinbase=[a, c][n % 2], difficulty=DIFF_NO_TURN if missed else 2,
                          in_turn=b if missed else None, seconds=3)
        burned += end.burned

    env = Env(sb.state())
    hub = env.storage(STAKE_HUB)
    operators = [a, b, c, ALICE]
    staked = sum(hub.get("credit.pooled", op) for op in operators)
    unbonding = total_unbonding(hub)
    incomings = sum(incoming(sb, v) for v in (a, b, c, USERS[6].address))
    credits = [credit_of(sb, op) for op in operators]

    assert burned > 0 and sb.balance(DEAD_ADDRESS) == burned
    assert sb.balance(STAKE_HUB) == staked + unbonding            # the pools and the unbonding queues, exactly
    assert sb.balance(VALIDATOR_SET) >= incomings                 # incoming plus undistributed dust
    assert sb.total_balances(credits + [DEAD_ADDRESS]) == sb.genesis_supply
    assert basic_info(sb, b)[1] is True                           # b missed 15 blocks: jailed on the way
