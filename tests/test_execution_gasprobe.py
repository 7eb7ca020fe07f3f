"""eth_estimateGas answered from one probing run (node/execution/gasprobe.py): for code whose outcome cannot depend
on its gas, the answer is exactly what geth's search finds by running every guess, with one EVM run instead of
several; code that reads GAS, calls or creates is searched run by run as before."""
from __future__ import annotations

import pytest

from chainkit import calldata, token_node
from node.execution import calls
from node.execution.calls import CallParams, ExecutionError, estimate_gas
from node.execution.gasprobe import GasProbe


def code(hex_: str) -> bytes:
    return bytes.fromhex(hex_)


SLOAD_SSTORE_SAME = code("600054" "600055" "00")      # slot 0 := slot 0: a warm no-op SSTORE (100 gas), the
#                                                        sentry (more than 2300 left) is what binds
CLEARER = code("6000600055" "00")                      # slot 0 := 0 while it holds 1: a refund
SETTER = code("6001600155" "00")                       # slot 1 := 1: a fresh slot (20,000 + cold)
BURN_THEN_SET = code("60c8" "5b" "6001" "90" "03" "80" "6002" "57" "6001600255" "00")   # a loop, then slot 2 := 1
GAS_READER = code("5a" "600052" "60206000f3")          # returns GAS
STOP = code("00")
MEMORY = code("6001" "620fffff" "52" "00")              # MSTORE at 1 MiB: memory expansion only
NAMES = ("sstore-same", "clearer", "setter", "burn-then-set", "gas-reader", "stop", "memory", "caller")
ADDR = {name: bytes([0x40 + i]) * 20 for i, name in enumerate(NAMES)}
CALLER_OF_CLEARER = code("6000" * 5 + "73" + ADDR["clearer"].hex() + "5a" "f1" "00")   # CALL it with all gas
CODES = {"sstore-same": SLOAD_SSTORE_SAME, "clearer": CLEARER, "setter": SETTER, "burn-then-set": BURN_THEN_SET,
         "gas-reader": GAS_READER, "stop": STOP, "memory": MEMORY, "caller": CALLER_OF_CLEARER}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    code = {ADDR[name]: body for name, body in CODES.items()}
    storage = {(ADDR["clearer"], 0): 1, (ADDR["sstore-same"], 0): 7}
    with token_node(tmp_path_factory.mktemp("probe"), code, storage) as found:
        yield found


def counted(monkeypatch) -> list[int]:
    """Count the EVM runs estimate_gas makes (the gas of each)."""
    runs: list[int] = []
    execute = calls._execute

    def counting(chain, header, params, gas, deadline=None, probe=None):
        runs.append(gas)
        return execute(chain, header, params, gas, deadline, probe)
    monkeypatch.setattr(calls, "_execute", counting)
    return runs


def answer(node, params):
    try:
        return "ok", estimate_gas(node.chain, node.chain.head, params)
    except ExecutionError as exc:
        return type(exc).__name__, str(exc)


def cases(token, owner, accounts):
    transfer = calldata("transfer(address,uint256)", accounts[2].address, 3)
    approve = calldata("approve(address,uint256)", accounts[3].address, 10)
    init = code("600a600c600039600a6000f3" "602a60005260206000f3")   # deploys code returning 42
    return {
        "token-transfer": (CallParams(sender=owner.address, to=token, data=transfer), True),
        "token-approve": (CallParams(sender=owner.address, to=token, data=approve), True),
        "sstore-sentry": (CallParams(to=ADDR["sstore-same"]), True),
        "refund": (CallParams(to=ADDR["clearer"]), True),
        "fresh-slot": (CallParams(to=ADDR["setter"]), True),
        "loop-then-store": (CallParams(to=ADDR["burn-then-set"]), True),
        "memory": (CallParams(to=ADDR["memory"]), True),
        "create": (CallParams(sender=owner.address, data=init), True),
        "calldata-floor": (CallParams(to=ADDR["stop"], data=b"\xff" * 4000), True),
        "floor-with-gas-cap": (CallParams(to=ADDR["stop"], data=b"\xff" * 4000, gas=100_000), True),
        "gas-reader": (CallParams(to=ADDR["gas-reader"]), False),
        "caller": (CallParams(to=ADDR["caller"]), False),
        "out-of-gas": (CallParams(to=ADDR["setter"], gas=30_000), True),
    }


CASES = ("token-transfer", "token-approve", "sstore-sentry", "refund", "fresh-slot", "loop-then-store", "memory",
         "create", "calldata-floor", "floor-with-gas-cap", "gas-reader", "caller", "out-of-gas")


@pytest.mark.parametrize("case", CASES)
def test_a_probed_estimate_is_the_searched_one(env, monkeypatch, case):
    node, token, owner = env
    params, independent = cases(token, owner, node.accounts)[case]
    runs = counted(monkeypatch)
    probed = answer(node, params)
    probed_runs = list(runs)
    runs.clear()
    monkeypatch.setattr(GasProbe, "least_gas", lambda self, limit, remaining: None)   # search run by run
    searched = answer(node, params)
    assert probed == searched
    if independent and probed[0] == "ok" and len(runs) > 1:
        assert len(probed_runs) == 1, probed_runs      # every guess answered without the EVM
    elif not independent:
        assert len(probed_runs) == len(runs) > 1       # GAS, CALL: every guess is run


def test_the_sentry_binds_above_the_gas_used(env):
    # a no-op SSTORE costs 100 gas but needs more than 2300 left: the least gas is well above what the run used
    node, _, _ = env
    chain = node.chain
    params = CallParams(to=ADDR["sstore-same"])
    estimate = estimate_gas(chain, chain.head, params)
    computation = calls._execute(chain, chain.head, params, 1_000_000)
    used = 1_000_000 - computation.get_gas_remaining()

    def runs(gas: int) -> bool:
        try:
            calls.call(chain, chain.head, CallParams(to=ADDR["sstore-same"], gas=gas))
            return True
        except ExecutionError:
            return False
    lo, hi = 21_000, estimate
    while lo + 1 < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if runs(mid) else (mid, hi)
    assert hi > used + 2000
    assert hi <= estimate <= hi * 1.015 + 1


def test_calldata_over_the_floor_estimates_the_floor(env):
    # EIP-7623 (Prague): a transaction pays at least its calldata floor, and geth counts it in the gas used its
    # search starts from, so no guess falls below it (each would be refused, not run)
    node, _, _ = env
    data = b"\xff" * 4000
    floor = 21_000 + 10 * 4 * len(data)
    estimate = estimate_gas(node.chain, node.chain.head, CallParams(to=ADDR["stop"], data=data))
    assert floor <= estimate <= floor * 1.015 + 1
    assert calls.call(node.chain, node.chain.head, CallParams(to=ADDR["stop"], data=data, gas=estimate)) == b""
