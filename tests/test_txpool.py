"""Transaction pool tables: ordering, gaps, replacement, prices, limits, geth's rejection messages, new heads.

Transactions are real signed bytes (eth-account, or py-evm's builder where eth-account refuses the shape) decoded
by py-evm; senders are named "A", "B", … and the head state is a dict.
"""
from __future__ import annotations

import threading

import pytest
from eth.vm.forks.prague import PragueVM
from eth_account import Account
from eth_keys import keys

from node.txpool import errors as E
from node.txpool.pool import PoolConfig, TxPool
from node.txpool.validation import SECP256K1_N, decode

CHAIN_ID = 714
GWEI = 10**9
RICH = 10**24
GAS_LIMIT = 30_000_000
TO = "0x" + "22" * 20
NAMES = "ABCDEFGH"
KEYS = {name: bytes([i + 1]) * 32 for i, name in enumerate(NAMES)}
ADDR = {name: keys.PrivateKey(key).public_key.to_canonical_address() for name, key in KEYS.items()}
NAME_OF = {addr: name for name, addr in ADDR.items()}
BUILDER = PragueVM.get_transaction_builder()


def raw(name="A", nonce=0, price=GWEI, *, kind=0, tip=None, gas=21000, value=0, data=b"", to=TO,
        chain_id=CHAIN_ID, **extra) -> bytes:
    """Signed bytes from `name`; `price` is gasPrice or maxFeePerGas, `tip` the priority fee (default: price)."""
    fields = dict(nonce=nonce, gas=gas, value=value, data=data, to=to, **extra)
    if chain_id is not None:
        fields["chainId"] = chain_id
    if kind in (0, 1):
        fields.update(gasPrice=price, **({"type": 1, "accessList": []} if kind else {}))
    else:
        fields.update(type=kind, maxFeePerGas=price, maxPriorityFeePerGas=price if tip is None else tip)
    return bytes(Account.sign_transaction(fields, KEYS[name]).raw_transaction)


def tx(*args, **kwargs):
    return decode(raw(*args, **kwargs))


def pyevm_signed(name: str, unsigned) -> bytes:
    """Shapes eth-account will not sign (tip above fee cap, empty authorization list, blobs)."""
    return unsigned.as_signed_transaction(keys.PrivateKey(KEYS[name])).encode()


def authorization(name="B", nonce=0):
    return Account.sign_authorization(dict(chainId=CHAIN_ID, address=TO, nonce=nonce), KEYS[name])


class DictState:
    """Head state: {address: (nonce, balance)}, everyone else rich with nonce 0."""

    def __init__(self, accounts=None):
        self.accounts = {ADDR[n]: v for n, v in (accounts or {}).items()}

    def get_nonce(self, address):
        return self.accounts.get(address, (0, RICH))[0]

    def get_balance(self, address):
        return self.accounts.get(address, (0, RICH))[1]


def make_pool(state=None, gas_limit=GAS_LIMIT, **config):
    state = state or DictState()
    limit = [gas_limit]
    pool = TxPool(CHAIN_ID, lambda: state, lambda: limit[0], PoolConfig(**config))
    pool.state, pool.limit = state, limit
    return pool


def send(pool, *specs):
    """specs: (name, nonce, price) tuples; returns the hashes."""
    return [pool.add(tx(name, nonce, price)) for name, nonce, price in specs]


def named(txs):
    return [(NAME_OF[t.sender], t.nonce) for t in txs]


def layout(pool):
    pending, queued = pool.content()
    as_names = lambda part: {NAME_OF[s]: sorted(by_nonce) for s, by_nonce in part.items()}  # noqa: E731
    return as_names(pending), as_names(queued)


# -- ordering --

@pytest.mark.parametrize("sent, block", [
    # two senders, different prices: interleave by price, nonces in order
    ([("A", 0, 5), ("A", 1, 1), ("B", 0, 3), ("B", 1, 2)], [("A", 0), ("B", 0), ("B", 1), ("A", 1)]),
    ([("A", 0, 1), ("A", 1, 9), ("B", 0, 3)], [("B", 0), ("A", 0), ("A", 1)]),
    # equal prices: arrival decides
    ([("A", 0, 2), ("B", 0, 2)], [("A", 0), ("B", 0)]),
    ([("B", 0, 2), ("A", 0, 2)], [("B", 0), ("A", 0)]),
    # a higher nonce never goes before a lower one, whatever it pays
    ([("A", 1, 9), ("A", 0, 1), ("B", 0, 5)], [("B", 0), ("A", 0), ("A", 1)]),
])
def test_block_order(sent, block):
    pool = make_pool()
    send(pool, *[(n, nonce, price * GWEI) for n, nonce, price in sent])
    assert named(pool.pending_for_block()) == block


def test_block_order_uses_effective_price_of_dynamic_fee_txs():
    pool = make_pool()
    pool.add(tx("A", 0, 50 * GWEI, kind=2, tip=2 * GWEI))  # pays its tip: 2 gwei
    pool.add(tx("B", 0, 3 * GWEI))
    assert named(pool.pending_for_block()) == [("B", 0), ("A", 0)]


# -- gaps --

@pytest.mark.parametrize("nonces, pending, queued, promoted", [
    ([0, 1, 2], [0, 1, 2], [], [0, 1, 2]),
    ([0, 2, 3], [0], [2, 3], [0]),
    ([2, 3], [], [2, 3], []),
    ([0, 2, 3, 1], [0, 1, 2, 3], [], [0, 1, 2, 3]),   # filling the gap promotes the queued run
    ([3, 1, 0], [0, 1], [3], [0, 1]),
])
def test_gaps_queue_then_promote(nonces, pending, queued, promoted):
    pool = make_pool()
    heard = []
    pool.on_pending.append(heard.append)
    send(pool, *[("A", n, GWEI) for n in nonces])
    assert layout(pool) == ({"A": pending} if pending else {}, {"A": queued} if queued else {})
    assert pool.status() == (len(pending), len(queued))
    assert [t.nonce for t in heard] == promoted
    assert pool.pending_nonce(ADDR["A"]) == len(pending)


def test_pending_nonce_starts_at_state_nonce():
    pool = make_pool(DictState({"A": (3, RICH)}))
    assert pool.pending_nonce(ADDR["A"]) == 3
    send(pool, ("A", 3, GWEI), ("A", 4, GWEI), ("A", 6, GWEI))
    assert pool.pending_nonce(ADDR["A"]) == 5


def test_one_sender_may_fill_far_beyond_account_slots():
    pool = make_pool()
    send(pool, *[("A", n, GWEI) for n in range(50)])
    assert pool.status() == (50, 0)
    assert [t.nonce for t in pool.pending_for_block()] == list(range(50))


# -- replacement --

@pytest.mark.parametrize("first, second, error", [
    (dict(price=100 * GWEI), dict(price=110 * GWEI), None),                     # exactly +10%
    (dict(price=100 * GWEI), dict(price=109 * GWEI), E.ReplacementUnderpriced),
    (dict(price=100 * GWEI), dict(price=100 * GWEI), E.AlreadyKnown),            # same bytes
    (dict(price=100 * GWEI), dict(price=100 * GWEI, value=1), E.ReplacementUnderpriced),
    (dict(price=100 * GWEI), dict(price=200 * GWEI, kind=2, tip=110 * GWEI), None),
    # EIP-1559: both caps must rise by the bump
    (dict(price=100 * GWEI, kind=2, tip=10 * GWEI), dict(price=110 * GWEI, kind=2, tip=10 * GWEI),
     E.ReplacementUnderpriced),
    (dict(price=100 * GWEI, kind=2, tip=10 * GWEI), dict(price=200 * GWEI, kind=2, tip=11 * GWEI), None),
    # wei-level prices: the new caps must still be strictly higher
    (dict(price=1), dict(price=1, value=1), E.ReplacementUnderpriced),
    (dict(price=1), dict(price=2), None),
])
@pytest.mark.parametrize("queued", [False, True])
def test_replacement(first, second, error, queued):
    pool = make_pool(min_gas_price=0)
    nonce = 5 if queued else 0
    old = pool.add(tx("A", nonce, **first))
    if error:
        with pytest.raises(error) as info:
            pool.add(tx("A", nonce, **second))
        assert info.value.message == error.text
        assert pool.get(old) is not None
    else:
        new = pool.add(tx("A", nonce, **second))
        assert pool.get(old) is None and pool.get(new).nonce == nonce
    assert len(pool) == 1 and pool.status() == ((0, 1) if queued else (1, 0))


def test_replacing_a_pending_tx_announces_the_new_one():
    pool = make_pool()
    heard = []
    pool.on_pending.append(heard.append)
    pool.add(tx("A", 0, GWEI))
    new = pool.add(tx("A", 0, 2 * GWEI))
    assert [t.hash for t in heard][-1] == new


# -- minimum price --

@pytest.mark.parametrize("min_price, sent, error", [
    (GWEI, dict(price=GWEI // 2), "transaction underpriced: gas tip cap 500000000, minimum needed 1000000000"),
    (GWEI, dict(price=GWEI), None),
    (GWEI, dict(price=100 * GWEI, kind=2, tip=GWEI // 10),
     "transaction underpriced: gas tip cap 100000000, minimum needed 1000000000"),
    (0, dict(price=0), None),
    (0, dict(price=0, kind=2, tip=0), None),
])
def test_minimum_gas_price(min_price, sent, error):
    pool = make_pool(min_gas_price=min_price)
    if error:
        with pytest.raises(E.Underpriced) as info:
            pool.add(tx("A", 0, **sent))
        assert info.value.message == error
    else:
        pool.add(tx("A", 0, **sent))
        assert len(pool) == 1


# -- limits --

def test_account_queue_limit():
    pool = make_pool(account_queue=2)
    send(pool, ("A", 2, GWEI), ("A", 3, GWEI))
    with pytest.raises(E.AccountLimitExceeded) as info:
        send(pool, ("A", 4, GWEI))
    assert info.value.message == "account limit exceeded: pooled 2 txs"
    send(pool, ("A", 0, GWEI), ("B", 5, GWEI))      # executable ones and other senders still fit
    assert pool.status() == (1, 3)


@pytest.mark.parametrize("full, newcomer, evicted, error", [
    # the cheapest sender's highest nonce goes, so no gap opens in its pending run
    ([("A", 0, 1), ("B", 0, 2), ("C", 0, 3)], ("D", 0, 5), ("A", 0), None),
    ([("A", 0, 1), ("A", 1, 1), ("B", 0, 5)], ("C", 0, 2), ("A", 1), None),
    ([("A", 0, 3), ("A", 1, 1), ("B", 0, 2)], ("C", 0, 4), ("A", 1), None),
    # paying no more than the cheapest: rejected
    ([("A", 0, 1), ("B", 0, 2), ("C", 0, 3)], ("D", 0, 1), None, E.TxPoolOverflow),
    # a sender never evicts its own transactions to make room
    ([("A", 0, 1), ("A", 1, 1), ("A", 2, 1)], ("A", 3, 9), None, E.TxPoolOverflow),
    # a gapped newcomer must not push out an executable transaction
    ([("A", 0, 1), ("B", 0, 2), ("C", 0, 3)], ("D", 1, 9), None, E.FutureReplacePending),
])
def test_global_limit_evicts_cheapest(full, newcomer, evicted, error):
    pool = make_pool(global_slots=2, global_queue=1)
    hashes = dict(zip([(n, nonce) for n, nonce, _ in full], send(pool, *[(n, o, p * GWEI) for n, o, p in full])))
    name, nonce, price = newcomer
    if error:
        with pytest.raises(error) as info:
            send(pool, (name, nonce, price * GWEI))
        assert info.value.message == error.text
        assert len(pool) == 3
        return
    send(pool, (name, nonce, price * GWEI))
    assert len(pool) == 3 and pool.get(hashes[evicted]) is None


@pytest.mark.parametrize("newcomer_price, error", [(5, None), (1, E.TxPoolOverflow)])
def test_global_queue_limit_evicts_cheapest_queued(newcomer_price, error):
    pool = make_pool(global_queue=1)
    send(pool, ("A", 0, GWEI), ("B", 3, 2 * GWEI))
    if error:
        with pytest.raises(error):
            send(pool, ("C", 3, newcomer_price * GWEI))
        assert layout(pool)[1] == {"B": [3]}
    else:
        send(pool, ("C", 3, newcomer_price * GWEI))
        assert layout(pool) == ({"A": [0]}, {"C": [3]})


# -- rejection messages --

N_HALF = SECP256K1_N // 2


def _high_s(encoded: bytes) -> bytes:
    """The same signature with s mirrored above n/2 (valid ECDSA, refused since Homestead)."""
    t = decode(encoded)
    if t.type_id is None:
        return t.copy(s=SECP256K1_N - t.s, v=t.v + (1 if t.v % 2 else -1)).encode()
    return t.copy(s=SECP256K1_N - t.s, y_parity=t.y_parity ^ 1).encode()


def _create_with(size: int) -> bytes:
    return raw(to=b"", data=b"\x01" * size, gas=GAS_LIMIT)


REJECTIONS = [
    ("nonce too low", dict(state={"A": (1, RICH)}), lambda: raw(nonce=0),
     E.NonceTooLow, "nonce too low: next nonce 1, tx nonce 0"),
    ("no funds", dict(state={"A": (0, 0)}), lambda: raw(value=1),
     E.InsufficientFunds,
     "insufficient funds for gas * price + value: balance 0, tx cost 21000000000001, overshot 21000000000001"),
    ("funds taken by pending", dict(state={"A": (0, 21000 * GWEI)}, before=[raw(nonce=0)]), lambda: raw(nonce=1),
     E.InsufficientFunds,
     "insufficient funds for gas * price + value: balance 21000000000000, queued cost 21000000000000, "
     "tx cost 21000000000000, overshot 21000000000000"),
    ("funds for a bump", dict(state={"A": (0, 50000 * GWEI)}, before=[raw(nonce=0), raw(nonce=1)]),
     lambda: raw(nonce=0, price=2 * GWEI),
     E.InsufficientFunds,
     "insufficient funds for gas * price + value: balance 50000000000000, queued cost 42000000000000, "
     "tx bumped 21000000000000, overshot 13000000000000"),
    ("intrinsic gas", {}, lambda: raw(gas=20000),
     E.IntrinsicGasTooLow, "intrinsic gas too low: gas 20000, minimum needed 21000"),
    ("intrinsic gas of a create counts init-code words", {}, lambda: raw(to=b"", data=b"\x01" * 33, gas=53528),
     E.IntrinsicGasTooLow, "intrinsic gas too low: gas 53528, minimum needed 53532"),
    ("calldata floor", {}, lambda: raw(data=b"\x01" * 100, gas=22600),
     E.FloorDataGasTooLow, "insufficient gas for floor data gas cost: gas 22600, minimum needed 25000"),
    ("block gas limit", {}, lambda: raw(gas=GAS_LIMIT + 1), E.GasLimitExceeded, "exceeds block gas limit"),
    ("oversized", {}, lambda: raw(data=b"\x01" * (128 * 1024), gas=GAS_LIMIT),
     E.OversizedData, "oversized data: transaction size 131182, limit 131072"),
    ("init code", {}, lambda: _create_with(49153),
     E.MaxInitCodeSizeExceeded, "max initcode size exceeded: code size 49153, limit 49152"),
    ("pre-EIP-155", {}, lambda: raw(chain_id=None),
     E.ReplayProtectionRequired, "only replay-protected (EIP-155) transactions allowed over RPC"),
    ("other chain, legacy", {}, lambda: raw(chain_id=56),
     E.InvalidChainId, "invalid sender: invalid chain id for signer: have 56 want 714"),
    ("other chain, typed", {}, lambda: raw(kind=2, chain_id=1),
     E.InvalidChainId, "invalid sender: invalid chain id for signer: have 1 want 714"),
    ("high s, legacy", {}, lambda: _high_s(raw()),
     E.InvalidSender, "invalid sender: invalid transaction v, r, s values"),
    ("high s, typed", {}, lambda: _high_s(raw(kind=2)),
     E.InvalidSender, "invalid sender: invalid transaction v, r, s values"),
    ("tip above cap", {}, lambda: pyevm_signed("A", BUILDER.new_unsigned_dynamic_fee_transaction(
        CHAIN_ID, 0, 2 * GWEI, GWEI, 21000, bytes.fromhex(TO[2:]), 0, b"", [])),
     E.TipAboveFeeCap, "max priority fee per gas higher than max fee per gas"),
    ("nonce max", {}, lambda: raw(nonce=2**64 - 1), E.NonceMax, "nonce has max value"),
    ("blob", {}, lambda: pyevm_signed("A", BUILDER.new_unsigned_blob_transaction(
        CHAIN_ID, 0, GWEI, GWEI, 21000, bytes.fromhex(TO[2:]), 0, b"", [], 1, [b"\x01" + b"\x00" * 31])),
     E.TxTypeNotSupported, "transaction type not supported: received type 3"),
    ("set code without authorizations", {}, lambda: pyevm_signed("A", BUILDER.new_unsigned_set_code_transaction(
        CHAIN_ID, 0, GWEI, GWEI, 60000, bytes.fromhex(TO[2:]), 0, b"", [], [])),
     E.EmptyAuthorizationList, "set code tx must have at least one authorization tuple"),
    ("unknown type", {}, lambda: b"\x05\xc0", E.TxTypeNotSupported, "transaction type not supported"),
    ("type byte 0", {}, lambda: b"\x00\xc0", E.TxTypeNotSupported, "transaction type not supported"),
    ("empty", {}, lambda: b"", E.TypedTxTooShort, "typed transaction too short"),
    ("type byte only", {}, lambda: b"\x02", E.TypedTxTooShort, "typed transaction too short"),
    ("empty list", {}, lambda: b"\xc0", E.DecodeError, "rlp: too few elements for types.LegacyTx"),
    ("not a list", {}, lambda: b"\x83abc", E.DecodeError, "rlp: expected input list for types.LegacyTx"),
    ("trailing bytes", {}, lambda: raw() + b"\x00", E.DecodeError, "rlp: input contains more than one value"),
    ("truncated", {}, lambda: raw(kind=2)[:-3], E.DecodeError, "rlp: *"),
    ("already known", dict(before=[raw()]), lambda: raw(), E.AlreadyKnown, "already known"),
]


@pytest.mark.parametrize("case, setup, make, error, message", REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_rejection_messages(case, setup, make, error, message):
    pool = make_pool(DictState(setup.get("state")))
    for earlier in setup.get("before", []):
        pool.add_raw(earlier)
    with pytest.raises(error) as info:
        pool.add_raw(make())
    assert isinstance(info.value, E.TxPoolError)
    assert info.value.message == str(info.value)
    if message.endswith("*"):   # geth's wording of RLP defects varies; only the prefix is fixed
        assert info.value.message.startswith(message[:-1])
    else:
        assert info.value.message == message


# -- accepted types --

@pytest.mark.parametrize("make, kind", [
    (lambda: raw(), None),
    (lambda: raw(kind=1, gas=21000), 1),
    (lambda: raw(kind=2), 2),
    (lambda: raw(kind=4, gas=60000, authorizationList=[authorization("B")]), 4),
])
def test_supported_types_accepted(make, kind):
    pool = make_pool()
    tx_hash = pool.add_raw(make())
    assert pool.get(tx_hash).type_id == kind
    assert named(pool.pending_for_block()) == [("A", 0)]


def test_sender_recovered_once_and_object_kept():
    pool = make_pool()
    t = tx("A", 0)
    assert "sender" not in vars(t)
    tx_hash = pool.add(t)
    assert vars(t)["sender"] == ADDR["A"]        # cached on the object by the pool's one recovery
    assert pool.get(tx_hash) is t and pool.pending_for_block()[0] is t


# -- new heads --

@pytest.mark.parametrize("state_after, included, gas_limit, pending, queued, promoted", [
    # mined: included and stale transactions leave, the rest stays pending
    ({"A": (2, RICH)}, [0, 1], GAS_LIMIT, {"A": [2]}, {"B": [3]}, []),
    ({"A": (2, RICH)}, [], GAS_LIMIT, {"A": [2]}, {"B": [3]}, []),
    # B's gap closed by transactions mined elsewhere: its queued run is promoted
    ({"A": (0, RICH), "B": (3, RICH)}, [], GAS_LIMIT, {"A": [0, 1, 2], "B": [3]}, {}, [("B", 3)]),
    # A can no longer pay for nonce 1 (it moves value): dropped, nonce 2 waits behind the gap
    ({"A": (0, 100_000 * GWEI)}, [], GAS_LIMIT, {"A": [0]}, {"A": [2], "B": [3]}, []),
    # the block gas limit fell below A's nonce-2 gas
    ({}, [], 50000, {"A": [0, 1]}, {"B": [3]}, []),
])
def test_on_new_head(state_after, included, gas_limit, pending, queued, promoted):
    pool = make_pool()
    hashes = [pool.add(tx("A", 0)), pool.add(tx("A", 1, value=10**18)), pool.add(tx("A", 2, gas=60000))]
    pool.add(tx("B", 3))
    heard = []
    pool.on_pending.append(heard.append)
    pool.state.accounts = DictState(state_after).accounts
    pool.limit[0] = gas_limit
    pool.on_new_head(included=[pool.get(hashes[n]) for n in included])
    assert layout(pool) == (pending, queued)
    assert named(heard) == promoted


def test_on_new_head_re_adds_reorged_transactions():
    pool = make_pool()
    mined = [tx("A", 0), tx("A", 1)]
    pool.on_new_head(returned=mined + [tx("B", 0, gas=20000)])   # the invalid one is skipped
    assert named(pool.pending_for_block()) == [("A", 0), ("A", 1)]


def test_remove_demotes_later_nonces():
    pool = make_pool()
    hashes = send(pool, ("A", 0, GWEI), ("A", 1, GWEI), ("A", 2, GWEI))
    assert pool.remove(hashes[1]) and not pool.remove(hashes[1])
    assert layout(pool) == ({"A": [0]}, {"A": [2]})


def test_concurrent_adds():
    pool = make_pool()

    def fire(name):
        for n in range(20):
            pool.add(tx(name, n))

    threads = [threading.Thread(target=fire, args=(name,)) for name in NAMES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert pool.status() == (20 * len(NAMES), 0)


def test_a_sender_recovered_by_the_front_is_not_recovered_again(monkeypatch):
    import eth.vm.forks.frontier.transactions as legacy   # where legacy transactions recover their sender
    recoveries = []
    real = legacy.extract_transaction_sender
    monkeypatch.setattr(legacy, "extract_transaction_sender",
                        lambda t: recoveries.append(t) or real(t))
    pool = make_pool()
    pool.add_raw(raw("A", 0), ADDR["A"])      # the front recovered it
    assert recoveries == [] and pool.pending_nonce(ADDR["A"]) == 1
    pool.add_raw(raw("B", 0))                 # no sender given: recovered here
    assert len(recoveries) == 1 and pool.pending_nonce(ADDR["B"]) == 1
    # the signature's value checks still run when the sender is given
    with pytest.raises(E.InvalidChainId):
        pool.add_raw(raw("C", 0, chain_id=CHAIN_ID + 1), ADDR["C"])
