"""The committed Token artifact deploys and runs on a stock py-evm Prague chain."""
import pytest
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_canonical_address

from artifacts import load_artifact
from node.dev.accounts import dev_accounts

CHAIN_ID = 1337
SUPPLY = 1_000_000 * 10**18
GAS_PRICE = 10**9

Chain = MiningChain.configure(
    __name__="TokenTestChain", vm_configuration=((0, PragueVM),), chain_id=CHAIN_ID
)


def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def calldata(signature: str, types: list[str], args: list) -> bytes:
    return selector(signature) + encode(types, args)


class Harness:
    def __init__(self):
        self.owner, self.alice = dev_accounts(count=2)
        self.chain = Chain.from_genesis(
            AtomicDB(),
            {
                "difficulty": 0,
                "gas_limit": 30_000_000,
                "timestamp": 1_700_000_000,
                "base_fee_per_gas": 0,
                "coinbase": b"\x00" * 20,
                "extra_data": b"",
                "nonce": b"\x00" * 8,
                "mix_hash": b"\x00" * 32,
                "blob_gas_used": 0,
                "excess_blob_gas": 0,
                "parent_beacon_block_root": b"\x00" * 32,
            },
            {acct.address: {"balance": 10**24, "nonce": 0, "code": b"", "storage": {}}
             for acct in (self.owner, self.alice)},
        )

    def sign(self, sender, to: bytes | None, data: bytes, gas: int, legacy: bool = False):
        """A transaction signed by eth-account, decoded by the VM: EIP-1559, or
        legacy with a zero gas price when `legacy`."""
        tx = {
            "chainId": CHAIN_ID,
            "nonce": self.chain.get_vm().state.get_nonce(sender.address),
            "gas": gas,
            "value": 0,
            "data": data,
        }
        if legacy:
            tx["gasPrice"] = 0
        else:
            tx.update(maxFeePerGas=GAS_PRICE, maxPriorityFeePerGas=0)
        if to is not None:
            tx["to"] = to
        raw = Account.sign_transaction(tx, sender.private_key).raw_transaction
        return PragueVM.get_transaction_builder().decode(bytes(raw))

    def send(self, sender, to: bytes | None, data: bytes, gas: int = 3_000_000):
        """Mines a block with one transaction; returns its receipt and computation."""
        _, receipts, computations = self.chain.mine_all([self.sign(sender, to, data, gas)])
        return receipts[0], computations[0]

    def call(self, to: bytes, data: bytes) -> bytes:
        """Runs a read-only message on the head state, without mining. py-evm's
        costless execution reads tx.gas_price, which only legacy transactions
        have, and re-signs nothing after setting it to 0, so the price must
        already be 0 or the recovered sender changes."""
        tx = self.sign(self.owner, to, data, gas=1_000_000, legacy=True)
        return self.chain.get_transaction_result(tx, self.chain.get_canonical_head())


@pytest.fixture(scope="module")
def token():
    artifact = load_artifact("Token")
    harness = Harness()
    init = bytes.fromhex(artifact["bytecode"][2:]) + encode(
        ["string", "string", "uint256"], ["Smart Token", "SMT", SUPPLY]
    )
    receipt, computation = harness.send(harness.owner, None, init, gas=5_000_000)
    assert computation.is_success, computation.error
    address = computation.msg.storage_address
    code = harness.chain.get_vm().state.get_code(address)
    assert "0x" + code.hex() == artifact["deployedBytecode"]
    return harness, artifact, address


def balance_of(harness, token_address, who: bytes) -> int:
    out = harness.call(token_address, calldata("balanceOf(address)", ["address"], [who]))
    return decode(["uint256"], out)[0]


def test_artifact_fields():
    artifact = load_artifact("Token")
    assert artifact["contractName"] == "Token"
    assert artifact["bytecode"].startswith("0x") and artifact["deployedBytecode"].startswith("0x")
    assert artifact["compiler"]["settings"]["evmVersion"] in ("cancun", "prague")
    names = {item.get("name") for item in artifact["abi"]}
    assert {"transfer", "approve", "transferFrom", "balanceOf", "allowance", "burnGas",
            "InsufficientBalance", "Transfer", "Approval"} <= names


def test_metadata(token):
    harness, _, address = token
    name = decode(["string"], harness.call(address, selector("name()")))[0]
    symbol = decode(["string"], harness.call(address, selector("symbol()")))[0]
    decimals = decode(["uint8"], harness.call(address, selector("decimals()")))[0]
    supply = decode(["uint256"], harness.call(address, selector("totalSupply()")))[0]
    assert (name, symbol, decimals, supply) == ("Smart Token", "SMT", 18, SUPPLY)
    assert balance_of(harness, address, harness.owner.address) == SUPPLY


def test_transfer_moves_balance_and_logs(token):
    harness, _, address = token
    before = balance_of(harness, address, harness.owner.address)
    data = calldata("transfer(address,uint256)", ["address", "uint256"],
                    [harness.alice.address, 1234])
    receipt, computation = harness.send(harness.owner, address, data)
    assert computation.is_success
    assert decode(["bool"], computation.output) == (True,)
    assert balance_of(harness, address, harness.alice.address) == 1234
    assert balance_of(harness, address, harness.owner.address) == before - 1234
    (log,) = receipt.logs
    assert log.address == address
    assert log.topics[0] == int.from_bytes(keccak(text="Transfer(address,address,uint256)"), "big")
    assert log.topics[1] == int.from_bytes(harness.owner.address, "big")
    assert log.topics[2] == int.from_bytes(harness.alice.address, "big")
    assert decode(["uint256"], log.data) == (1234,)


def test_over_balance_transfer_reverts_with_custom_error(token):
    harness, _, address = token
    have = balance_of(harness, address, harness.alice.address)
    data = calldata("transfer(address,uint256)", ["address", "uint256"],
                    [harness.owner.address, have + 1])
    receipt, computation = harness.send(harness.alice, address, data)
    assert computation.is_error and receipt.state_root == b""  # status 0
    output = computation.output
    assert output[:4] == selector("InsufficientBalance(address,uint256,uint256)")
    assert output[:4].hex() == "db42144d"
    account, available, required = decode(["address", "uint256", "uint256"], output[4:])
    assert to_canonical_address(account) == harness.alice.address
    assert (available, required) == (have, have + 1)
    assert balance_of(harness, address, harness.alice.address) == have


def error_string(output: bytes) -> str:
    assert output[:4] == selector("Error(string)")
    return decode(["string"], output[4:])[0]


def test_string_reverts(token):
    harness, _, address = token
    data = calldata("transferFrom(address,address,uint256)", ["address", "address", "uint256"],
                    [harness.alice.address, harness.owner.address, 1])
    _, computation = harness.send(harness.owner, address, data)  # alice never approves owner
    assert computation.is_error
    assert error_string(computation.output) == "ERC20: insufficient allowance"

    zero = calldata("transfer(address,uint256)", ["address", "uint256"], [b"\x00" * 20, 1])
    _, computation = harness.send(harness.owner, address, zero)
    assert error_string(computation.output) == "ERC20: transfer to the zero address"


def test_approve_and_transfer_from(token):
    harness, _, address = token
    approve = calldata("approve(address,uint256)", ["address", "uint256"],
                       [harness.alice.address, 500])
    receipt, computation = harness.send(harness.owner, address, approve)
    assert computation.is_success and len(receipt.logs) == 1
    allowance = calldata("allowance(address,address)", ["address", "address"],
                         [harness.owner.address, harness.alice.address])
    assert decode(["uint256"], harness.call(address, allowance)) == (500,)
    before = balance_of(harness, address, harness.alice.address)
    move = calldata("transferFrom(address,address,uint256)", ["address", "address", "uint256"],
                    [harness.owner.address, harness.alice.address, 200])
    _, computation = harness.send(harness.alice, address, move)
    assert computation.is_success
    assert decode(["uint256"], harness.call(address, allowance)) == (300,)
    assert balance_of(harness, address, harness.alice.address) == before + 200


def test_burn_gas_needs_more_than_it_uses(token):
    """burnGas succeeds with a generous limit, but its gas used is not enough as a limit."""
    harness, _, address = token
    data = calldata("burnGas(uint256)", ["uint256"], [10])
    receipt, computation = harness.send(harness.owner, address, data, gas=1_000_000)
    assert computation.is_success
    used = receipt.gas_used
    _, computation = harness.send(harness.owner, address, data, gas=used + 1000)
    assert computation.is_error
    assert error_string(computation.output) == "need gas"
