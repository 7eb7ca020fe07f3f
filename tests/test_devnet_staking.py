"""Staking, slashing and elections on a simulated Devnet, every node applying the same block-end rules: a stopped
validator is jailed and left out of the next election; a validator created over JSON-RPC (ethers-style ABI calls with
web3.py) is elected and seals; unbonded stake is claimed back; double-sign evidence jails and slashes, once."""
import pytest
import rlp
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError
from web3.middleware import ExtraDataToPOAMiddleware

from chainkit import sign
from consensus.header import parse_extra
from consensus.system import SLASH_INDICATOR, STAKE_HUB
from node.dev.accounts import dev_accounts
from node.dev.devnet import Devnet
from node.execution.calls import CallParams, call
from rpc.server import RpcServer
from stakingabi import SLASH_INDICATOR_ABI, STAKE_CREDIT_ABI, STAKE_HUB_ABI, vote_key

ACCOUNTS = dev_accounts()
ETHER = 10**18


def view(node, address: bytes, signature: str, types: list[str], args: list, out: list[str]) -> tuple:
    data = function_signature_to_4byte_selector(signature) + encode(types, args)
    return decode(out, call(node.chain, node.chain.head, CallParams(to=address, data=data)))


def epoch_validators(node, number: int) -> tuple[bytes, ...]:
    return parse_extra(node.chain.header_by_number(number).extra_data, epoch_block=True).addresses


def assert_agree(net: Devnet) -> None:
    heads = {(m.head.hash, m.node.chain.state_at().state_root) for m in net.members if m.running}
    assert len(heads) == 1


def test_a_stopped_validator_reaches_misdemeanor_then_felony_is_jailed_and_not_elected():
    # without vote keys: 21 validators' BLS votes on every block would only slow this test of the block-end rules
    with Devnet(validators=21, epoch=50, parlia={"misdemeanorThreshold": 2, "felonyThreshold": 4},
                votes=False) as net:
        stopped = net.members[3]
        net.stop_validator(3)
        node = net.nodes[0]
        counts = []
        for _ in range(150):
            net.step()
            counts.append(view(node, SLASH_INDICATOR, "getSlashIndicator(address)", ["address"],
                               [stopped.address], ["uint256", "uint256"])[1])
        # the count rose one missed slot at a time to the felony threshold, where jailing resets it
        assert 2 in counts and 3 in counts
        _, jailed, jail_until = view(node, STAKE_HUB, "getValidatorBasicInfo(address)", ["address"],
                                     [stopped.address], ["uint256", "bool", "uint256"])
        assert jailed and jail_until > node.chain.head.timestamp
        jailed_at = next(n for n in range(1, 151) if not view_jailed_before(node, stopped.address, n))
        next_epoch = (jailed_at // 50 + 1) * 50
        assert stopped.address in epoch_validators(node, 50) or jailed_at < 50
        assert stopped.address not in epoch_validators(node, next_epoch)
        assert len(epoch_validators(node, next_epoch)) == 20
        assert_agree(net)


def view_jailed_before(node, validator: bytes, number: int) -> bool:
    """True while `validator` was not yet jailed after block `number`."""
    header = node.chain.header_by_number(number)
    data = function_signature_to_4byte_selector("getValidatorBasicInfo(address)") + encode(["address"], [validator])
    return not decode(["uint256", "bool", "uint256"], call(node.chain, header, CallParams(to=STAKE_HUB, data=data)))[1]


@pytest.fixture
def staking_net():
    with Devnet(validators=3, standby=1, epoch=10, parlia={"unbondPeriod": 20}) as net:
        with RpcServer(net.nodes[0], "127.0.0.1", 0) as server:
            w3 = Web3(Web3.HTTPProvider(server.url, request_kwargs={"timeout": 30}))
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
            yield net, w3


def mined(net: Devnet, w3: Web3, tx_hash) -> dict:
    net.step()
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt.status == 1
    return receipt


def test_a_validator_created_over_json_rpc_is_elected_seals_and_its_delegator_claims_back(staking_net):
    net, w3 = staking_net
    newcomer = net.members[3]
    assert newcomer.address not in net.validators
    operator, delegator = (to_checksum_address(a.address) for a in ACCOUNTS[5:7])
    hub = w3.eth.contract(address=to_checksum_address(STAKE_HUB), abi=STAKE_HUB_ABI)
    create = hub.functions.createValidator(to_checksum_address(newcomer.address), *vote_key("newcomer", operator),
                                           (500, 2000, 100), ("Newcomer", "new", "https://new.example", "joins"))
    mined(net, w3, create.transact({"from": operator, "value": 3_000 * ETHER}))
    mined(net, w3, hub.functions.delegate(operator, False).transact({"from": delegator, "value": 100 * ETHER}))

    # elected at the next epoch block, in force N/2+1 blocks later, then it seals its turns
    while net.nodes[0].chain.head.block_number % 10:
        net.step()
    epoch = net.nodes[0].chain.head.block_number
    assert newcomer.address in epoch_validators(net.nodes[0], epoch)
    sealed = [b for b in net.run(12) if b.header.coinbase == newcomer.address]
    assert sealed and all(m.head.hash == net.members[0].head.hash for m in net.members)

    # undelegate, claim too early (BSC's error), claim after the unbonding period: the stake comes back
    credit = w3.eth.contract(address=hub.functions.getValidatorCreditContract(operator).call(),
                             abi=STAKE_CREDIT_ABI)
    shares = credit.functions.balanceOf(delegator).call()
    pooled = credit.functions.getPooledBNB(delegator).call()
    assert pooled >= 100 * ETHER   # rewards can only raise it
    mined(net, w3, hub.functions.undelegate(operator, shares).transact({"from": delegator}))
    with pytest.raises(ContractCustomError):
        hub.functions.claim(operator, 0).call({"from": delegator})
    for _ in range(25):   # 20 s of unbonding at one block a second
        net.step()
    before = w3.eth.get_balance(delegator)
    receipt = mined(net, w3, hub.functions.claim(operator, 0).transact({"from": delegator}))
    assert w3.eth.get_balance(delegator) - before == pooled - receipt.gasUsed * receipt.effectiveGasPrice
    [claimed] = hub.events.Claimed().process_receipt(receipt)
    assert claimed.args.bnbAmount == pooled
    assert_agree(net)


def test_double_sign_evidence_jails_and_slashes_once(staking_net):
    net, w3 = staking_net
    net.run(3)
    culprit = net.members[0]
    while not net.nodes[0].chain.engine.in_turn(culprit.head, culprit.address):
        net.step()
    first, second = net.double_sign(0)
    reporter = to_checksum_address(ACCOUNTS[8].address)
    indicator = w3.eth.contract(address=to_checksum_address(SLASH_INDICATOR), abi=SLASH_INDICATOR_ABI)
    hub = w3.eth.contract(address=to_checksum_address(STAKE_HUB), abi=STAKE_HUB_ABI)
    evidence = indicator.functions.submitDoubleSignEvidence(rlp.encode(first), rlp.encode(second))
    mined(net, w3, evidence.transact({"from": reporter, "gas": 1_000_000}))
    _, jailed, _ = hub.functions.getValidatorBasicInfo(to_checksum_address(culprit.address)).call()
    assert jailed
    credit = w3.eth.contract(address=hub.functions.getValidatorCreditContract(
        to_checksum_address(culprit.address)).call(), abi=STAKE_CREDIT_ABI)
    assert credit.functions.getPooledBNB(to_checksum_address(culprit.address)).call() < 20_001 * ETHER
    with pytest.raises(ContractCustomError):
        evidence.call({"from": reporter})   # the same evidence twice: BSC's AlreadySlashed()
    net.run(2)
    assert_agree(net)
