"""Staking end to end: a real node (genesis with the system contracts, LMDB, the HTTP server) driven by web3.py with
contract objects built from BSC's ABI, as a script written for BSC would: createValidator, delegate, undelegate,
claim after the unbonding period; reverts decode as BSC's custom errors; eth_estimateGas runs through StakeHub."""
import json

import pytest
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from consensus.system import STAKE_HUB, SystemParams, genesis_alloc_json
from node.dev.accounts import dev_accounts
from node.config import REPO_GENESIS
from rpcnode import serve
from stakingabi import DESCRIPTION, STAKE_CREDIT_ABI, STAKE_HUB_ABI, vote_key

ACCOUNTS = dev_accounts()
VALIDATOR, OPERATOR, DELEGATOR = (to_checksum_address(a.address) for a in ACCOUNTS[:3])
CONSENSUS = to_checksum_address(ACCOUNTS[7].address)
VOTE_ADDRESS, BLS_PROOF = vote_key("operator", OPERATOR)
ETHER = 10**18
UNBOND_PERIOD = 30
PARAMS = SystemParams(unbond_period=UNBOND_PERIOD, min_self_delegation=1_000 * ETHER)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    genesis = json.loads(REPO_GENESIS.read_text())
    genesis["alloc"].update(genesis_alloc_json([bytes.fromhex(VALIDATOR[2:])], PARAMS, int(genesis["timestamp"], 16)))
    genesis["config"]["parlia"].update(unbondPeriod=UNBOND_PERIOD, minSelfDelegationBNB=str(1_000 * ETHER))
    path = tmp_path_factory.mktemp("staking") / "genesis.json"
    path.write_text(json.dumps(genesis))
    with serve(genesis=path, block_time=0) as r:
        yield r


@pytest.fixture(scope="module")
def rpc_w3(node):
    """web3.py over the node's HTTP server (not named `w3`: that is the smartchain plugin's fixture)."""
    return node.web3()


@pytest.fixture(scope="module")
def hub(rpc_w3):
    return rpc_w3.eth.contract(address=to_checksum_address(STAKE_HUB), abi=STAKE_HUB_ABI)


def mined(w3, tx_hash):
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.05)
    assert receipt.status == 1
    return receipt


def test_system_contract_addresses_have_code(rpc_w3):
    assert rpc_w3.eth.get_code(to_checksum_address(STAKE_HUB)) != b""   # Solidity callers check extcodesize


def test_create_delegate_undelegate_and_claim_after_unbonding(rpc_w3, hub):
    assert hub.functions.unbondPeriod().call() == UNBOND_PERIOD
    create = hub.functions.createValidator(CONSENSUS, VOTE_ADDRESS, BLS_PROOF, (700, 3000, 100), DESCRIPTION)
    gas = create.estimate_gas({"from": OPERATOR, "value": 1_500 * ETHER})
    receipt = mined(rpc_w3, create.transact({"from": OPERATOR, "value": 1_500 * ETHER}))
    assert receipt.gasUsed <= gas
    [created] = hub.events.ValidatorCreated().process_receipt(receipt, errors=DISCARD)
    assert (created.args.consensusAddress, created.args.operatorAddress, created.args.voteAddress) \
        == (CONSENSUS, OPERATOR, VOTE_ADDRESS)
    operators, credits, total = hub.functions.getValidators(0, 0).call()
    assert total == 2 and operators[-1] == OPERATOR and credits[-1] == created.args.creditContract
    credit = rpc_w3.eth.contract(address=created.args.creditContract, abi=STAKE_CREDIT_ABI)
    assert credit.functions.getPooledBNB(OPERATOR).call() == 1_499 * ETHER

    # the same moniker again: BSC's custom error, as ethers/web3 decode it
    with pytest.raises(ContractCustomError) as refused:
        hub.functions.createValidator(to_checksum_address(ACCOUNTS[8].address), *vote_key("delegator", DELEGATOR),
                                      (700, 3000, 100), DESCRIPTION).call({"from": DELEGATOR, "value": 1_500 * ETHER})
    assert refused.value.data == "0x" + function_signature_to_4byte_selector("DuplicateMoniker()").hex()

    receipt = mined(rpc_w3, hub.functions.delegate(OPERATOR, True).transact({"from": DELEGATOR, "value": 25 * ETHER}))
    [delegated] = hub.events.Delegated().process_receipt(receipt, errors=DISCARD)
    assert (delegated.args.delegator, delegated.args.bnbAmount) == (DELEGATOR, 25 * ETHER)
    shares = credit.functions.balanceOf(DELEGATOR).call()
    assert shares == delegated.args.shares and credit.functions.getPooledBNB(DELEGATOR).call() == 25 * ETHER

    receipt = mined(rpc_w3, hub.functions.undelegate(OPERATOR, shares).transact({"from": DELEGATOR}))
    [undelegated] = hub.events.Undelegated().process_receipt(receipt, errors=DISCARD)
    amount = undelegated.args.bnbAmount
    assert undelegated.args.shares == shares and amount == 25 * ETHER
    assert credit.functions.pendingUnbondRequest(DELEGATOR).call() == 1
    assert credit.functions.claimableUnbondRequest(DELEGATOR).call() == 0
    with pytest.raises(ContractCustomError) as early:
        hub.functions.claim(OPERATOR, 0).call({"from": DELEGATOR})
    assert early.value.data == "0x" + function_signature_to_4byte_selector("NoClaimableUnbondRequest()").hex()

    unlock = rpc_w3.eth.get_block(receipt.blockNumber).timestamp + UNBOND_PERIOD
    rpc_w3.provider.make_request("evm_setNextBlockTimestamp", [unlock - 1])
    rpc_w3.provider.make_request("evm_mine", [])
    assert credit.functions.claimableUnbondRequest(DELEGATOR).call() == 0      # one second early
    rpc_w3.provider.make_request("evm_mine", [])
    assert credit.functions.claimableUnbondRequest(DELEGATOR).call() == 1
    before = rpc_w3.eth.get_balance(DELEGATOR)
    receipt = mined(rpc_w3, hub.functions.claim(OPERATOR, 0).transact({"from": DELEGATOR}))
    [claimed] = hub.events.Claimed().process_receipt(receipt, errors=DISCARD)
    assert claimed.args.bnbAmount == amount
    fee = receipt.gasUsed * receipt.effectiveGasPrice
    assert rpc_w3.eth.get_balance(DELEGATOR) == before + amount - fee
    assert credit.functions.pendingUnbondRequest(DELEGATOR).call() == 0
