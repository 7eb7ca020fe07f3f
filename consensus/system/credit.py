"""StakeCredit: each validator's share pool (gc/contracts/StakeCredit.sol), kept in StakeHub's storage.

BSC deploys one StakeCredit proxy per validator that holds the pooled BNB and a non-transferable ERC-20 of shares.
Here the shares and the unbonding queues live in StakeHub's storage under the validator's operator address, the
pooled BNB stays in StakeHub's balance, and each validator still gets a credit address (the CREATE address
StakeHub's nonce gives) holding a 27-byte forwarder: it STATICCALLs StakeHub with the caller's calldata, and
StakeHub answers StakeCredit's views for the validator that address belongs to. So `getValidators` returns real
credit addresses and `IStakeCredit(credit).getPooledBNB(delegator)` works from ethers or from Solidity.

Share math as BSC's: shares = bnb * totalSupply / totalPooledBNB on delegate, bnb = shares * totalPooledBNB /
totalSupply on undelegate (rounding down both ways, so the pool never pays out more than it holds).
"""
from __future__ import annotations

from consensus.system.abi import Contract, as_address
from consensus.system.addresses import DEAD_ADDRESS, STAKE_HUB
from consensus.system.runtime import Env, Storage, custom_error

LOCK_AMOUNT = 10**18           # StakeHub.LOCK_AMOUNT: 1 BNB of every new validator is locked as 0x…dEaD's shares
COMMISSION_RATE_BASE = 10_000

# CALLDATACOPY the call, STATICCALL 0x…2002 with all gas, copy the answer back, RETURN it or REVERT with it
FORWARDER_CODE = bytes.fromhex("365f5f375f5f365f6120025afa3d5f5f3e6017573d5ffd5b3d5ff3")

CREDIT = Contract("StakeCredit", None)


def credit_store(env: Env) -> Storage:
    return env.storage(STAKE_HUB)


# -- accounting ----------------------------------------------------------------------------------------------------

def total_pooled(s: Storage, op: bytes) -> int:
    return s.get("credit.pooled", op)


def total_supply(s: Storage, op: bytes) -> int:
    return s.get("credit.supply", op)


def balance_of(s: Storage, op: bytes, holder: bytes) -> int:
    return s.get("credit.balance", op, holder)


def shares_by_pooled(s: Storage, op: bytes, bnb: int) -> int:
    pooled = total_pooled(s, op)
    if pooled == 0:
        raise custom_error("ZeroTotalPooledBNB()")
    return bnb * total_supply(s, op) // pooled


def pooled_by_shares(s: Storage, op: bytes, shares: int) -> int:
    supply = total_supply(s, op)
    if supply == 0:
        raise custom_error("ZeroTotalShares()")
    return shares * total_pooled(s, op) // supply


def pooled_of(s: Storage, op: bytes, holder: bytes) -> int:
    """getPooledBNB: what `holder`'s shares are worth now."""
    return pooled_by_shares(s, op, balance_of(s, op, holder))


def _mint(s: Storage, op: bytes, holder: bytes, shares: int) -> None:
    s.add("credit.balance", op, holder, shares)
    s.add("credit.supply", op, shares)


def _burn(s: Storage, op: bytes, holder: bytes, shares: int) -> None:
    s.add("credit.balance", op, holder, -shares)
    s.add("credit.supply", op, -shares)


def bootstrap(s: Storage, op: bytes, amount: int) -> None:
    """A new validator's pool: 1 BNB of shares locked to 0x…dEaD, the rest to the operator, one share per wei."""
    _mint(s, op, DEAD_ADDRESS, LOCK_AMOUNT)
    _mint(s, op, op, amount - LOCK_AMOUNT)
    s.set("credit.pooled", op, amount)


def mint_for(s: Storage, op: bytes, holder: bytes, bnb: int) -> int:
    """Add `bnb` to the pool as `holder`'s shares (at the price before it); returns the shares, possibly 0."""
    shares = shares_by_pooled(s, op, bnb)
    _mint(s, op, holder, shares)
    s.add("credit.pooled", op, bnb)
    return shares


def burn_from(s: Storage, op: bytes, holder: bytes, shares: int) -> int:
    """Take `shares` of `holder` out of the pool; returns the BNB they were worth."""
    bnb = pooled_by_shares(s, op, shares)
    _burn(s, op, holder, shares)
    s.add("credit.pooled", op, -bnb)
    return bnb


def add_to_pool(s: Storage, op: bytes, bnb: int, day: int) -> None:
    """BNB for every holder: the share price rises (StakeCredit.receive, the redelegation fee)."""
    s.set("credit.pooledRecord", op, day, total_pooled(s, op))
    s.add("credit.rewardRecord", op, day, bnb)
    s.add("credit.pooled", op, bnb)


def distribute_reward(env: Env, op: bytes, amount: int, rate: int, day: int) -> None:
    """StakeCredit.distributeReward: commission minted to the operator as shares after the rest raised the price."""
    s = credit_store(env)
    commission = amount * rate // COMMISSION_RATE_BASE
    reward = amount - commission
    s.set("credit.pooledRecord", op, day, total_pooled(s, op))
    s.add("credit.rewardRecord", op, day, reward)
    s.add("credit.pooled", op, reward)
    mint_for(s, op, op, commission)


def slash_self_stake(s: Storage, op: bytes, amount: int) -> int:
    """Burn the operator's shares worth `amount` (at most all of them); returns the BNB taken."""
    shares = min(shares_by_pooled(s, op, amount), balance_of(s, op, op))
    return burn_from(s, op, op, shares)


# -- unbonding queue (FIFO per delegator) --------------------------------------------------------------------------

def queue_bounds(s: Storage, op: bytes, delegator: bytes) -> tuple[int, int]:
    return s.get("credit.queue.head", op, delegator), s.get("credit.queue.tail", op, delegator)


def request_at(s: Storage, op: bytes, delegator: bytes, position: int) -> tuple[int, int, int]:
    """(shares, bnbAmount, unlockTime) of the request at absolute queue position `position`."""
    return (s.get("credit.req.shares", op, delegator, position), s.get("credit.req.bnb", op, delegator, position),
            s.get("credit.req.unlock", op, delegator, position))


def push_request(s: Storage, op: bytes, delegator: bytes, shares: int, bnb: int, unlock: int) -> None:
    _, tail = queue_bounds(s, op, delegator)
    s.set("credit.req.shares", op, delegator, tail, shares)
    s.set("credit.req.bnb", op, delegator, tail, bnb)
    s.set("credit.req.unlock", op, delegator, tail, unlock)
    s.set("credit.queue.tail", op, delegator, tail + 1)
    s.add("credit.unbonding", bnb)


def claim_matured(s: Storage, op: bytes, delegator: bytes, number: int, now: int) -> int:
    """Pop up to `number` (0: all) matured requests from the front; returns their BNB (StakeCredit.claim)."""
    head, tail = queue_bounds(s, op, delegator)
    if head == tail:
        raise custom_error("NoUnbondRequest()")
    number = tail - head if number == 0 or number > tail - head else number
    total = 0
    while number and head < tail:
        _, bnb, unlock = request_at(s, op, delegator, head)
        if now < unlock:
            break
        for field in ("credit.req.shares", "credit.req.bnb", "credit.req.unlock"):
            s.set(field, op, delegator, head, 0)
        total += bnb
        head += 1
        number -= 1
    if total == 0:
        raise custom_error("NoClaimableUnbondRequest()")
    s.set("credit.queue.head", op, delegator, head)
    s.add("credit.unbonding", -total)
    return total


def total_unbonding(s: Storage) -> int:
    """BNB of every validator waiting in unbonding queues (held by StakeHub until claimed)."""
    return s.get("credit.unbonding")


# -- credit addresses ----------------------------------------------------------------------------------------------

def operator_of_credit(s: Storage, credit: bytes) -> bytes | None:
    op = s.get_address("credit.operator", credit)
    return None if op == bytes(20) else op


def register_credit(env: Env, s: Storage, op: bytes, credit: bytes) -> None:
    env.create_account(credit, FORWARDER_CODE)
    s.set_address("credit.operator", credit, op)


# -- StakeCredit's ABI, answered for the validator `op` whose credit address was called -----------------------------

def _moniker(env: Env, op: bytes) -> str:
    return credit_store(env).get_str("val.moniker", op)


@CREDIT.method("validator", outputs=("address",))
def _validator(env: Env, op: bytes) -> bytes:
    return op


@CREDIT.method("name", outputs=("string",))
def _name(env: Env, op: bytes) -> str:
    return f"Stake {_moniker(env, op)} Credit"


@CREDIT.method("symbol", outputs=("string",))
def _symbol(env: Env, op: bytes) -> str:
    return f"st{_moniker(env, op)}"


@CREDIT.method("decimals", outputs=("uint8",))
def _decimals(env: Env, op: bytes) -> int:
    return 18


@CREDIT.method("totalSupply", outputs=("uint256",))
def _total_supply(env: Env, op: bytes) -> int:
    return total_supply(credit_store(env), op)


@CREDIT.method("totalPooledBNB", outputs=("uint256",))
def _total_pooled(env: Env, op: bytes) -> int:
    return total_pooled(credit_store(env), op)


@CREDIT.method("balanceOf", ("address",), ("uint256",))
def _balance_of(env: Env, op: bytes, holder: str) -> int:
    return balance_of(credit_store(env), op, as_address(holder))


@CREDIT.method("getPooledBNB", ("address",), ("uint256",))
def _get_pooled(env: Env, op: bytes, holder: str) -> int:
    return pooled_of(credit_store(env), op, as_address(holder))


@CREDIT.method("getPooledBNBByShares", ("uint256",), ("uint256",))
def _pooled_by_shares(env: Env, op: bytes, shares: int) -> int:
    return pooled_by_shares(credit_store(env), op, shares)


@CREDIT.method("getSharesByPooledBNB", ("uint256",), ("uint256",))
def _shares_by_pooled(env: Env, op: bytes, bnb: int) -> int:
    return shares_by_pooled(credit_store(env), op, bnb)


@CREDIT.method("pendingUnbondRequest", ("address",), ("uint256",))
def _pending(env: Env, op: bytes, delegator: str) -> int:
    head, tail = queue_bounds(credit_store(env), op, as_address(delegator))
    return tail - head


@CREDIT.method("claimableUnbondRequest", ("address",), ("uint256",))
def _claimable(env: Env, op: bytes, delegator: str) -> int:
    s, who = credit_store(env), as_address(delegator)
    head, tail = queue_bounds(s, op, who)
    count = 0
    for position in range(head, tail):
        if env.timestamp < request_at(s, op, who, position)[2]:
            break
        count += 1
    return count


@CREDIT.method("unbondRequest", ("address", "uint256"), ("(uint256,uint256,uint256)",))
def _unbond_request(env: Env, op: bytes, delegator: str, index: int) -> tuple[int, int, int]:
    s, who = credit_store(env), as_address(delegator)
    head, tail = queue_bounds(s, op, who)
    if index >= tail - head:
        # OpenZeppelin's DoubleEndedQueue.at reverts OutOfBounds()
        raise custom_error("OutOfBounds()")
    return request_at(s, op, who, head + index)


@CREDIT.method("lockedBNBs", ("address", "uint256"), ("uint256",))
def _locked(env: Env, op: bytes, delegator: str, number: int) -> int:
    s, who = credit_store(env), as_address(delegator)
    head, tail = queue_bounds(s, op, who)
    number = tail - head if number == 0 or number > tail - head else number
    return sum(request_at(s, op, who, position)[1] for position in range(head, head + number))


@CREDIT.method("unbondSequence", ("address",), ("uint256",))
def _sequence(env: Env, op: bytes, delegator: str) -> int:
    return queue_bounds(credit_store(env), op, as_address(delegator))[1]


@CREDIT.method("rewardRecord", ("uint256",), ("uint256",))
def _reward_record(env: Env, op: bytes, day: int) -> int:
    return credit_store(env).get("credit.rewardRecord", op, day)


@CREDIT.method("totalPooledBNBRecord", ("uint256",), ("uint256",))
def _pooled_record(env: Env, op: bytes, day: int) -> int:
    return credit_store(env).get("credit.pooledRecord", op, day)


@CREDIT.method("allowance", ("address", "address"), ("uint256",))
def _allowance(env: Env, op: bytes, owner: str, spender: str) -> int:
    return 0


@CREDIT.method("transfer", ("address", "uint256"), ("bool",))
@CREDIT.method("transferFrom", ("address", "address", "uint256"), ("bool",))
def _transfer(env: Env, op: bytes, *args: object) -> bool:
    raise custom_error("TransferNotAllowed()")


@CREDIT.method("approve", ("address", "uint256"), ("bool",))
def _approve(env: Env, op: bytes, *args: object) -> bool:
    raise custom_error("ApproveNotAllowed()")


def _only_stake_hub(env: Env, op: bytes, *args: object) -> None:
    # what BSC's credit answers anyone but StakeHub calling its write functions (SystemV2.onlyStakeHub)
    raise custom_error("OnlySystemContract(address)", "0x" + STAKE_HUB.hex())


for _name_, _inputs in (("delegate", ("address",)), ("undelegate", ("address", "uint256")),
                        ("unbond", ("address", "uint256")), ("claim", ("address", "uint256")),
                        ("distributeReward", ("uint64",)), ("slash", ("uint256",))):
    CREDIT.method(_name_, _inputs, ("uint256",) if _name_ != "distributeReward" else (),
                  payable=_name_ in ("delegate", "distributeReward"))(_only_stake_hub)
CREDIT.on_receive(_only_stake_hub)

