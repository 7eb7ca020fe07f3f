"""Fast finality's contract side end to end: a running node (genesis with BSC's system contracts, LMDB, the HTTP
server) driven by web3.py with contract objects from BSC's ABI. StakeHub's createValidator and editVoteAddress
check the BLS registration proof (a wrong one reverts with BSC's InvalidVoteAddress(), a right one succeeds); a
validator whose BLS key signed two votes for one target is slashed and jailed through
SlashIndicator.submitFinalityViolationEvidence, with BSC's amounts (200 BNB, 30 days, 20 % of SystemReward to the
reporter, at most 5 BNB) computed here from BSC's parameters."""
import json

import pytest
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.middleware import ExtraDataToPOAMiddleware

from consensus import bls, votes
from consensus.system import SLASH_INDICATOR, STAKE_HUB, SYSTEM_REWARD, VALIDATOR_SET, GenesisValidator, \
    SystemParams, genesis_alloc_json
from consensus.votes import VoteData
from node.config import REPO_GENESIS
from node.dev.accounts import dev_accounts
from rpcnode import serve
from stakingabi import DESCRIPTION, SLASH_INDICATOR_ABI, STAKE_CREDIT_ABI, STAKE_HUB_ABI, vote_key, vote_secret

ACCOUNTS = dev_accounts()
ETHER = 10**18
DAY = 86_400   # BSC's BreatheBlockInterval
PARAMS = SystemParams()   # BSC's values: 200 BNB and 30 days for a felony, 20 % reward ratio, proofs checked
SEALER = ACCOUNTS[0].address                         # the dev node's validator
OFFENDER = keccak(text="offender")[12:]              # a staked validator with a BLS key; it seals nothing here
OFFENDER_SECRET = vote_secret("offender")
OPERATOR, REPORTER = (to_checksum_address(a.address) for a in ACCOUNTS[5:7])
VALIDATOR_SET_ABI = [{"type": "function", "name": "getValidators", "stateMutability": "view", "inputs": [],
                      "outputs": [{"type": "address[]", "name": ""}]}]


def selector(signature: str) -> str:
    return "0x" + function_signature_to_4byte_selector(signature).hex()


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    genesis = json.loads(REPO_GENESIS.read_text())
    stakers = [GenesisValidator(SEALER), GenesisValidator(OFFENDER, vote_address=bls.public_key(OFFENDER_SECRET))]
    genesis["alloc"].update(genesis_alloc_json(stakers, PARAMS, int(genesis["timestamp"], 16)))
    path = tmp_path_factory.mktemp("finality") / "genesis.json"
    path.write_text(json.dumps(genesis))
    with serve(genesis=path, produce=False) as r:
        yield r


@pytest.fixture(scope="module")
def web3(node):
    w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


@pytest.fixture(scope="module")
def hub(web3):
    return web3.eth.contract(address=to_checksum_address(STAKE_HUB), abi=STAKE_HUB_ABI)


def mined(node, web3, tx_hash):
    node.node.mine()
    return web3.eth.get_transaction_receipt(tx_hash)


# -- the registration proof ------------------------------------------------------------------------------------

def test_create_validator_checks_the_bls_proof(node, web3, hub):
    consensus = to_checksum_address(ACCOUNTS[7].address)
    vote_address, proof = vote_key("operator", OPERATOR)
    wrong = {
        "another key's proof": vote_key("someone else", OPERATOR)[1],
        "another operator's proof": vote_key("operator", REPORTER)[1],
        "another chain's proof": vote_key("operator", OPERATOR, chain_id=56)[1],
    }
    for reason, bad in wrong.items():
        create = hub.functions.createValidator(consensus, vote_address, bad, (700, 3000, 100), DESCRIPTION)
        with pytest.raises(ContractCustomError) as refused:
            create.call({"from": OPERATOR, "value": 2_001 * ETHER})
        assert refused.value.data == selector("InvalidVoteAddress()"), reason
        receipt = mined(node, web3, create.transact({"from": OPERATOR, "value": 2_001 * ETHER, "gas": 1_000_000}))
        assert receipt.status == 0, reason
    assert hub.functions.getValidators(0, 0).call()[2] == 2   # nothing was created

    create = hub.functions.createValidator(consensus, vote_address, proof, (700, 3000, 100), DESCRIPTION)
    receipt = mined(node, web3, create.transact({"from": OPERATOR, "value": 2_001 * ETHER}))
    assert receipt.status == 1
    [created] = hub.events.ValidatorCreated().process_receipt(receipt, errors=DISCARD)
    assert (created.args.operatorAddress, created.args.voteAddress) == (OPERATOR, vote_address)
    assert hub.functions.getValidatorVoteAddress(OPERATOR).call() == vote_address


def test_edit_vote_address_checks_the_bls_proof(node, web3, hub):
    new_address, new_proof = vote_key("operator's second key", OPERATOR)
    edit = hub.functions.editVoteAddress(new_address, vote_key("operator's second key", REPORTER)[1])
    with pytest.raises(ContractCustomError) as refused:
        edit.call({"from": OPERATOR})
    assert refused.value.data == selector("InvalidVoteAddress()")
    # BSC lets a validator edit once per breathe interval (a day) after its last change
    updated = hub.functions.getValidatorUpdateTime(OPERATOR).call()   # set by createValidator
    web3.provider.make_request("evm_setNextBlockTimestamp", [updated + DAY + 1])
    node.node.mine()   # the estimate runs on the latest block: let it be a day later
    receipt = mined(node, web3, hub.functions.editVoteAddress(new_address, new_proof).transact({"from": OPERATOR}))
    assert receipt.status == 1
    [edited] = hub.events.VoteAddressEdited().process_receipt(receipt, errors=DISCARD)
    assert (edited.args.operatorAddress, edited.args.newVoteAddress) == (OPERATOR, new_address)
    assert hub.functions.getValidatorVoteAddress(OPERATOR).call() == new_address


# -- a double vote: evidence, slash and jail ---------------------------------------------------------------------

def signed(data: VoteData) -> tuple:
    """A vote as SlashIndicator's VoteData struct: (srcNum, srcHash, tarNum, tarHash, sig)."""
    return (data.source_number, data.source_hash, data.target_number, data.target_hash,
            votes.sign_vote(OFFENDER_SECRET, data).signature)


def test_a_double_voter_is_slashed_and_jailed_through_the_evidence_call(node, web3, hub):
    indicator = web3.eth.contract(address=to_checksum_address(SLASH_INDICATOR), abi=SLASH_INDICATOR_ABI)
    validator_set = web3.eth.contract(address=to_checksum_address(VALIDATOR_SET), abi=VALIDATOR_SET_ABI)
    offender = to_checksum_address(OFFENDER)
    assert offender in validator_set.functions.getValidators().call()
    # SystemReward pays the reporter 20 % of its balance: give it 10 BNB so the share stays under the 5 BNB cap
    receipt = mined(node, web3, web3.eth.send_transaction(
        {"from": ACCOUNTS[4].address, "to": to_checksum_address(SYSTEM_REWARD), "value": 10 * ETHER}))
    assert receipt.status == 1

    head = web3.eth.get_block("latest")
    genesis = web3.eth.get_block(0)
    source = (0, bytes(genesis.hash))
    target = head.number
    honest = VoteData(*source, target, bytes(head.hash))
    forked = VoteData(*source, target, keccak(b"a block on another fork"))    # the same target: rule 1 broken
    evidence = (signed(honest), signed(forked), bls.public_key(OFFENDER_SECRET))

    # votes that break no rule are no evidence (BSC's words)
    later = VoteData(target, bytes(head.hash), target + 1, keccak(b"next"))
    with pytest.raises(ContractLogicError, match="no violation of vote rules"):
        indicator.functions.submitFinalityViolationEvidence(
            (signed(honest), signed(later), bls.public_key(OFFENDER_SECRET))).call({"from": REPORTER})

    credit = web3.eth.contract(address=hub.functions.getValidatorCreditContract(offender).call(),
                               abi=STAKE_CREDIT_ABI)
    stake_before = credit.functions.getPooledBNB(offender).call()
    reward_pool = web3.eth.get_balance(to_checksum_address(SYSTEM_REWARD))
    reporter_before = web3.eth.get_balance(REPORTER)
    receipt = mined(node, web3, indicator.functions.submitFinalityViolationEvidence(evidence)
                    .transact({"from": REPORTER}))
    assert receipt.status == 1
    block = web3.eth.get_block(receipt.blockNumber)

    jail_until = block.timestamp + PARAMS.felony_jail_time
    [slashed] = hub.events.ValidatorSlashed().process_receipt(receipt, errors=DISCARD)
    assert (slashed.args.operatorAddress, slashed.args.jailUntil, slashed.args.slashAmount,
            slashed.args.slashType) == (offender, jail_until, PARAMS.felony_slash_amount, 2)   # 2: MaliciousVote
    assert hub.functions.getValidatorBasicInfo(offender).call()[1:] == [True, jail_until]
    assert credit.functions.getPooledBNB(offender).call() == stake_before - PARAMS.felony_slash_amount
    paid = min(reward_pool * PARAMS.felony_slash_reward_ratio // 100, 5 * ETHER)
    assert 0 < paid < 5 * ETHER
    fee = receipt.gasUsed * receipt.effectiveGasPrice
    assert web3.eth.get_balance(REPORTER) == reporter_before + paid - fee
    assert offender not in validator_set.functions.getValidators().call()   # ValidatorSet.felony removed it

    # the same evidence again slashes nothing more
    with pytest.raises(ContractLogicError):
        indicator.functions.submitFinalityViolationEvidence(evidence).call({"from": REPORTER})
    assert credit.functions.getPooledBNB(offender).call() == stake_before - PARAMS.felony_slash_amount
