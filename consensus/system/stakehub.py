"""StakeHub (0x…2002): validators, delegation, unbonding, redelegation and slashing, as gc/contracts/StakeHub.sol.

Same function names, argument order, custom errors and events as BSC's, so calls written for BSC work. The BLS proof
of a vote address is verified through precompile 0x66 as BSC's _checkVoteAddress does (a genesis may turn that off
with `checkVoteAddressProof: 0`, leaving only the length check). What differs: there is no pausing, blacklist, agent,
GovToken vote delegation (the `delegateVotePower` flag is accepted and ignored) or node-ID registry; claimed BNB is
credited to the delegator's balance without running its code (BSC calls it with 5000 gas, so a contract whose
receive() reverts fails with TransferFailed there and is paid here).
Views live in stakehub_views.py, the functions other system contracts call in stakehub_system.py, share
accounting in credit.py.
"""
from __future__ import annotations

from eth._utils.address import generate_contract_address
from eth_utils import keccak

from consensus.system import blsverify, credit, validatorset
from consensus.system.abi import Contract, as_address
from consensus.system.addresses import DEAD_ADDRESS, STAKE_HUB
from consensus.system.runtime import ContractRevert, Env, Event, Storage, custom_error

BLS_PUBKEY_LENGTH = 48
BLS_SIG_LENGTH = 96
REDELEGATE_FEE_RATE_BASE = 100_000
MAX_COMMISSION_RATE = 5_000
SLASH_DOUBLE_SIGN, SLASH_DOWNTIME, SLASH_MALICIOUS_VOTE = 0, 1, 2

ValidatorCreated = Event("ValidatorCreated", ("address", True), ("address", True), ("address", True),
                         ("bytes", False))
StakeCreditInitialized = Event("StakeCreditInitialized", ("address", True), ("address", True))
ConsensusAddressEdited = Event("ConsensusAddressEdited", ("address", True), ("address", True))
CommissionRateEdited = Event("CommissionRateEdited", ("address", True), ("uint64", False))
DescriptionEdited = Event("DescriptionEdited", ("address", True))
VoteAddressEdited = Event("VoteAddressEdited", ("address", True), ("bytes", False))
Delegated = Event("Delegated", ("address", True), ("address", True), ("uint256", False), ("uint256", False))
Undelegated = Event("Undelegated", ("address", True), ("address", True), ("uint256", False), ("uint256", False))
Redelegated = Event("Redelegated", ("address", True), ("address", True), ("address", True), ("uint256", False),
                    ("uint256", False), ("uint256", False))
RewardDistributed = Event("RewardDistributed", ("address", True), ("uint256", False))
RewardDistributeFailed = Event("RewardDistributeFailed", ("address", True), ("bytes", False))
ValidatorSlashed = Event("ValidatorSlashed", ("address", True), ("uint256", False), ("uint256", False),
                         ("uint8", False))
ValidatorJailed = Event("ValidatorJailed", ("address", True))
ValidatorEmptyJailed = Event("ValidatorEmptyJailed", ("address", True))
ValidatorUnjailed = Event("ValidatorUnjailed", ("address", True))
Claimed = Event("Claimed", ("address", True), ("address", True), ("uint256", False))

CONTRACT = Contract("StakeHub", STAKE_HUB)

DESCRIPTION = "(string,string,string,string)"   # Description{moniker, identity, website, details}
COMMISSION = "(uint64,uint64,uint64)"           # Commission{rate, maxRate, maxChangeRate}


def store(env: Env) -> Storage:
    return env.storage(STAKE_HUB)


def hub(env: Env) -> Storage:
    """StakeHub's storage, reverting as BSC's uninitialised contract would when genesis did not set it up."""
    return env.initialised_storage(STAKE_HUB)


def param(s: Storage, name: str) -> int:
    """A parameter by its BSC getter name (minSelfDelegationBNB, unbondPeriod, ...)."""
    return s.get("param", name)


# -- the validator set of StakeHub (an EnumerableSet of operator addresses) ----------------------------------------

def exists(s: Storage, op: bytes) -> bool:
    return s.get("vals.index", op) != 0


def require_validator(s: Storage, op: bytes) -> None:
    if not exists(s, op):
        raise custom_error("ValidatorNotExisted()")


def operators(s: Storage) -> list[bytes]:
    return [s.get_address("vals.at", i) for i in range(s.get("vals.count"))]


def operator_of(s: Storage, consensus: bytes) -> bytes:
    return s.get_address("consensusToOperator", consensus)


def is_jailed(s: Storage, op: bytes) -> bool:
    return s.get("val.jailed", op) == 1


def _check_moniker(moniker: str) -> bool:
    # 3 to 9 ASCII characters, an upper-case letter first, letters and digits after
    return (3 <= len(moniker) <= 9 and moniker.isascii() and "A" <= moniker[0] <= "Z"
            and all(c.isalnum() for c in moniker[1:]))


def _check_vote_address(env: Env, s: Storage, op: bytes, vote_address: bytes, bls_proof: bytes) -> bool:
    # BSC's _checkVoteAddress: staticcall 0x66 with keccak256(operator | voteAddress | chainid) | proof | key; a
    # proof that does not verify answers False (InvalidVoteAddress), input 0x66 reverts on reverts with no data
    if len(vote_address) != BLS_PUBKEY_LENGTH or len(bls_proof) != BLS_SIG_LENGTH:
        return False
    if not param(s, "checkVoteAddressProof"):
        return True
    message = keccak(op + vote_address + env.chain_id.to_bytes(32, "big"))
    data = message + bls_proof + vote_address
    env.charge(blsverify.required_gas(data), "blsSignatureVerify precompile")
    try:
        return blsverify.check(data)
    except blsverify.BlsInputError as exc:
        raise ContractRevert(b"", f"blsSignatureVerify reverted: {exc}") from None


def add_validator(env: Env, s: Storage, op: bytes, consensus: bytes, vote_address: bytes,
                  commission: tuple[int, int, int], description: tuple[str, str, str, str], amount: int) -> bytes:
    """Record a new validator whose `amount` (1 BNB locked + self-delegation) StakeHub already holds."""
    nonce = env.state.get_nonce(STAKE_HUB)
    credit_address = generate_contract_address(STAKE_HUB, nonce)   # where BSC's CREATE would put the proxy
    env.state.set_nonce(STAKE_HUB, nonce + 1)
    credit.register_credit(env, s, op, credit_address)
    credit.bootstrap(s, op, amount)
    env.emit(STAKE_HUB, StakeCreditInitialized, op, credit_address)

    count = s.add("vals.count", 1)
    s.set_address("vals.at", count - 1, op)
    s.set("vals.index", op, count)
    moniker, identity, website, details = description
    s.set("monikers", keccak(moniker.encode()), 1)
    s.set_address("val.consensus", op, consensus)
    s.set_address("val.credit", op, credit_address)
    s.set("val.created", op, env.timestamp)
    s.set_bytes("val.vote", op, vote_address)
    _set_description(s, op, description)
    s.set("val.rate", op, commission[0])
    s.set("val.maxRate", op, commission[1])
    s.set("val.maxChangeRate", op, commission[2])
    s.set("val.updateTime", op, env.timestamp)
    s.set_address("consensusToOperator", consensus, op)
    if vote_address:
        s.set_address("voteToOperator", vote_address, op)
    env.emit(STAKE_HUB, ValidatorCreated, consensus, op, credit_address, vote_address)
    return credit_address


def _set_description(s: Storage, op: bytes, description: tuple[str, str, str, str]) -> None:
    for field, value in zip(("moniker", "identity", "website", "details"), description):
        s.set_str(f"val.{field}", op, value)


def _require_updatable(env: Env, s: Storage, op: bytes) -> None:
    if s.get("val.updateTime", op) + param(s, "BREATHE_BLOCK_INTERVAL") > env.timestamp:
        raise custom_error("UpdateTooFrequently()")


# -- writes ------------------------------------------------------------------------------------------------------

@CONTRACT.method("createValidator", ("address", "bytes", "bytes", COMMISSION, DESCRIPTION), payable=True)
def create_validator(env: Env, consensus: str, vote_address: bytes, bls_proof: bytes,
                     commission: tuple[int, int, int], description: tuple[str, str, str, str]) -> None:
    s, op, consensus_address = hub(env), env.sender, as_address(consensus)
    if exists(s, op):
        raise custom_error("ValidatorExisted()")
    if s.get("consensusToOperator", consensus_address):
        raise custom_error("DuplicateConsensusAddress()")
    if s.get("voteToOperator", vote_address):
        raise custom_error("DuplicateVoteAddress()")
    if s.get("monikers", keccak(description[0].encode())):
        raise custom_error("DuplicateMoniker()")
    if env.value < credit.LOCK_AMOUNT:
        raise custom_error("Panic(uint256)", 0x11)   # Solidity 0.8's checked `msg.value - LOCK_AMOUNT`
    if env.value - credit.LOCK_AMOUNT < param(s, "minSelfDelegationBNB"):
        raise custom_error("SelfDelegationNotEnough()")
    if consensus_address == bytes(20):
        raise custom_error("InvalidConsensusAddress()")
    rate, max_rate, max_change = commission
    if max_rate > MAX_COMMISSION_RATE or rate > max_rate or max_change > max_rate:
        raise custom_error("InvalidCommission()")
    if not _check_moniker(description[0]):
        raise custom_error("InvalidMoniker()")
    if not _check_vote_address(env, s, op, vote_address, bls_proof):
        raise custom_error("InvalidVoteAddress()")
    add_validator(env, s, op, consensus_address, vote_address, commission, description, env.value)
    delegation = env.value - credit.LOCK_AMOUNT
    env.emit(STAKE_HUB, Delegated, op, op, delegation, delegation)
    env.emit(STAKE_HUB, Delegated, op, DEAD_ADDRESS, credit.LOCK_AMOUNT, credit.LOCK_AMOUNT)


@CONTRACT.method("editConsensusAddress", ("address",))
def edit_consensus_address(env: Env, new_consensus: str) -> None:
    s, op, new = hub(env), env.sender, as_address(new_consensus)
    require_validator(s, op)
    if new == bytes(20):
        raise custom_error("InvalidConsensusAddress()")
    if s.get("consensusToOperator", new):
        raise custom_error("DuplicateConsensusAddress()")
    _require_updatable(env, s, op)
    s.set("consensusExpiration", s.get_address("val.consensus", op), env.timestamp)
    s.set_address("val.consensus", op, new)
    s.set("val.updateTime", op, env.timestamp)
    s.set_address("consensusToOperator", new, op)
    env.emit(STAKE_HUB, ConsensusAddressEdited, op, new)


@CONTRACT.method("editCommissionRate", ("uint64",))
def edit_commission_rate(env: Env, rate: int) -> None:
    s, op = hub(env), env.sender
    require_validator(s, op)
    _require_updatable(env, s, op)
    if rate > s.get("val.maxRate", op):
        raise custom_error("InvalidCommission()")
    if abs(rate - s.get("val.rate", op)) > s.get("val.maxChangeRate", op):
        raise custom_error("InvalidCommission()")
    s.set("val.rate", op, rate)
    s.set("val.updateTime", op, env.timestamp)
    env.emit(STAKE_HUB, CommissionRateEdited, op, rate)


@CONTRACT.method("editDescription", (DESCRIPTION,))
def edit_description(env: Env, description: tuple[str, str, str, str]) -> None:
    s, op = hub(env), env.sender
    require_validator(s, op)
    _require_updatable(env, s, op)
    _set_description(s, op, (s.get_str("val.moniker", op),) + tuple(description[1:]))   # the moniker stays
    s.set("val.updateTime", op, env.timestamp)
    env.emit(STAKE_HUB, DescriptionEdited, op)


@CONTRACT.method("editVoteAddress", ("bytes", "bytes"))
def edit_vote_address(env: Env, new_vote: bytes, bls_proof: bytes) -> None:
    s, op = hub(env), env.sender
    require_validator(s, op)
    if not _check_vote_address(env, s, op, new_vote, bls_proof):
        raise custom_error("InvalidVoteAddress()")
    if s.get("voteToOperator", new_vote):
        raise custom_error("DuplicateVoteAddress()")
    _require_updatable(env, s, op)
    s.set("voteExpiration", s.get_bytes("val.vote", op), env.timestamp)
    s.set_bytes("val.vote", op, new_vote)
    s.set("val.updateTime", op, env.timestamp)
    s.set_address("voteToOperator", new_vote, op)
    env.emit(STAKE_HUB, VoteAddressEdited, op, new_vote)


@CONTRACT.method("unjail", ("address",))
def unjail(env: Env, operator: str) -> None:
    s, op = hub(env), as_address(operator)
    require_validator(s, op)
    if not is_jailed(s, op):
        raise custom_error("ValidatorNotJailed()")
    if credit.pooled_of(s, op, op) < param(s, "minSelfDelegationBNB"):
        raise custom_error("SelfDelegationNotEnough()")
    if s.get("val.jailUntil", op) > env.timestamp:
        raise custom_error("JailTimeNotExpired()")
    s.set("val.jailed", op, 0)
    s.add("numOfJailed", -1)
    env.emit(STAKE_HUB, ValidatorUnjailed, op)


@CONTRACT.method("delegate", ("address", "bool"), payable=True)
def delegate(env: Env, operator: str, delegate_vote_power: bool) -> None:
    s, op, delegator, amount = hub(env), as_address(operator), env.sender, env.value
    require_validator(s, op)
    if amount < param(s, "minDelegationBNBChange"):
        raise custom_error("DelegationAmountTooSmall()")
    if is_jailed(s, op) and delegator != op:
        raise custom_error("OnlySelfDelegation()")
    shares = _delegate_to_pool(s, op, delegator, amount)
    env.emit(STAKE_HUB, Delegated, op, delegator, shares, amount)


def _delegate_to_pool(s: Storage, op: bytes, delegator: bytes, amount: int) -> int:
    # StakeCredit.delegate
    if amount == 0:
        raise custom_error("ZeroAmount()")
    shares = credit.mint_for(s, op, delegator, amount)
    if shares == 0:
        raise custom_error("ZeroShares()")
    return shares


def _unbond(s: Storage, op: bytes, delegator: bytes, shares: int) -> int:
    # StakeCredit.unbond / the first half of StakeCredit.undelegate
    if shares == 0:
        raise custom_error("ZeroShares()")
    if shares > credit.balance_of(s, op, delegator):
        raise custom_error("InsufficientBalance()")
    return credit.burn_from(s, op, delegator, shares)


@CONTRACT.method("undelegate", ("address", "uint256"))
def undelegate(env: Env, operator: str, shares: int) -> None:
    s, op, delegator = hub(env), as_address(operator), env.sender
    require_validator(s, op)
    if shares == 0:
        raise custom_error("ZeroShares()")
    amount = _unbond(s, op, delegator, shares)
    credit.push_request(s, op, delegator, shares, amount, env.timestamp + param(s, "unbondPeriod"))
    env.emit(STAKE_HUB, Undelegated, op, delegator, shares, amount)
    if delegator == op:
        _check_self_delegation(env, s, op)


def _check_self_delegation(env: Env, s: Storage, op: bytes) -> None:
    # a validator whose own stake falls below the minimum is jailed and leaves the current set
    if is_jailed(s, op):
        return
    if credit.pooled_of(s, op, op) < param(s, "minSelfDelegationBNB"):
        jail(env, s, op, env.timestamp + param(s, "downtimeJailTime"))
        validatorset.felony(env, s.get_address("val.consensus", op))


@CONTRACT.method("redelegate", ("address", "address", "uint256", "bool"))
def redelegate(env: Env, source: str, target: str, shares: int, delegate_vote_power: bool) -> None:
    s, src, dst, delegator = hub(env), as_address(source), as_address(target), env.sender
    require_validator(s, src)
    require_validator(s, dst)
    if shares == 0:
        raise custom_error("ZeroShares()")
    if src == dst:
        raise custom_error("SameValidator()")
    if is_jailed(s, dst) and delegator != dst:
        raise custom_error("OnlySelfDelegation()")
    amount = _unbond(s, src, delegator, shares)
    if amount < param(s, "minDelegationBNBChange"):
        raise custom_error("DelegationAmountTooSmall()")
    if delegator == src and credit.pooled_of(s, src, src) < param(s, "minSelfDelegationBNB"):
        raise custom_error("SelfDelegationNotEnough()")
    fee = amount * param(s, "redelegateFeeRate") // REDELEGATE_FEE_RATE_BASE
    credit.add_to_pool(s, dst, fee, env.timestamp // param(s, "BREATHE_BLOCK_INTERVAL"))
    amount -= fee
    new_shares = _delegate_to_pool(s, dst, delegator, amount)
    env.emit(STAKE_HUB, Redelegated, src, dst, delegator, shares, new_shares, amount)


def _claim(env: Env, s: Storage, op: bytes, request_number: int) -> None:
    require_validator(s, op)
    amount = credit.claim_matured(s, op, env.sender, request_number, env.timestamp)
    env.transfer(STAKE_HUB, env.sender, amount)
    env.emit(STAKE_HUB, Claimed, op, env.sender, amount)


@CONTRACT.method("claim", ("address", "uint256"))
def claim(env: Env, operator: str, request_number: int) -> None:
    _claim(env, hub(env), as_address(operator), request_number)


@CONTRACT.method("claimBatch", ("address[]", "uint256[]"))
def claim_batch(env: Env, operator_list: list[str], request_numbers: list[int]) -> None:
    s = hub(env)
    if len(operator_list) != len(request_numbers):
        raise custom_error("InvalidRequest()")
    for operator, number in zip(operator_list, request_numbers):
        _claim(env, s, as_address(operator), number)


@CONTRACT.on_receive
def _receive(env: Env) -> None:
    raise ContractRevert(b"", "StakeHub does not take plain transfers")   # BSC's receive() reverts with no data


# -- system functions: called by the other system contracts and finalize, never by a transaction ------------------

def jail(env: Env, s: Storage, op: bytes, until: int) -> None:
    """Jail `op` until `until`, except the last validator standing (BSC keeps one eligible)."""
    if s.get("numOfJailed") >= s.get("vals.count") - 1:
        env.emit(STAKE_HUB, ValidatorEmptyJailed, op)
        return
    if until > s.get("val.jailUntil", op):
        s.set("val.jailUntil", op, until)
    if not is_jailed(s, op):
        s.set("val.jailed", op, 1)
        s.add("numOfJailed", 1)
        env.emit(STAKE_HUB, ValidatorJailed, op)
