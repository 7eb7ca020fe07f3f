"""BSC's StakeHub / StakeCredit / SlashIndicator ABIs as a script written for BSC declares them (gc/contracts), and
vote keys with the registration proof StakeHub checks (BSC's `geth bls account generate-proof`)."""
from eth_utils import keccak

from consensus import bls, votes

CHAIN_ID = 714   # the repository's genesis.json, hence dev nodes and Devnets


def _fn(name, inputs, outputs=(), mutability="nonpayable"):
    return {"type": "function", "name": name, "stateMutability": mutability,
            "inputs": [dict(i) for i in inputs], "outputs": [dict(o) for o in outputs]}


def _arg(kind, name="", components=None):
    arg = {"type": kind, "name": name}
    if components:
        arg["components"] = [{"type": t, "name": n} for n, t in components]
    return arg


def _event(name, *inputs):
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{"type": t, "name": n, "indexed": i} for n, t, i in inputs]}


def _error(name):
    return {"type": "error", "name": name, "inputs": []}


# BSC's StakeHub / StakeCredit signatures (gc/contracts/StakeHub.sol, StakeCredit.sol), written out as a script would
STAKE_HUB_ABI = [
    _fn("createValidator", [
        _arg("address", "consensusAddress"), _arg("bytes", "voteAddress"), _arg("bytes", "blsProof"),
        _arg("tuple", "commission", [("rate", "uint64"), ("maxRate", "uint64"), ("maxChangeRate", "uint64")]),
        _arg("tuple", "description", [("moniker", "string"), ("identity", "string"), ("website", "string"),
                                      ("details", "string")])], mutability="payable"),
    _fn("delegate", [_arg("address", "operatorAddress"), _arg("bool", "delegateVotePower")], mutability="payable"),
    _fn("undelegate", [_arg("address", "operatorAddress"), _arg("uint256", "shares")]),
    _fn("claim", [_arg("address", "operatorAddress"), _arg("uint256", "requestNumber")]),
    _fn("getValidators", [_arg("uint256", "offset"), _arg("uint256", "limit")],
        [_arg("address[]", "operatorAddrs"), _arg("address[]", "creditAddrs"), _arg("uint256", "totalLength")],
        "view"),
    _fn("getValidatorCreditContract", [_arg("address", "operatorAddress")], [_arg("address", "creditContract")],
        "view"),
    _fn("getValidatorBasicInfo", [_arg("address", "operatorAddress")],
        [_arg("uint256", "createdTime"), _arg("bool", "jailed"), _arg("uint256", "jailUntil")], "view"),
    _fn("unbondPeriod", [], [_arg("uint256")], "view"),
    _fn("editVoteAddress", [_arg("bytes", "newVoteAddress"), _arg("bytes", "blsProof")]),
    _fn("getValidatorVoteAddress", [_arg("address", "operatorAddress")], [_arg("bytes", "voteAddress")], "view"),
    _fn("getValidatorUpdateTime", [_arg("address", "operatorAddress")], [_arg("uint256")], "view"),
    _event("ValidatorCreated", ("consensusAddress", "address", True), ("operatorAddress", "address", True),
           ("creditContract", "address", True), ("voteAddress", "bytes", False)),
    _event("Delegated", ("operatorAddress", "address", True), ("delegator", "address", True),
           ("shares", "uint256", False), ("bnbAmount", "uint256", False)),
    _event("Undelegated", ("operatorAddress", "address", True), ("delegator", "address", True),
           ("shares", "uint256", False), ("bnbAmount", "uint256", False)),
    _event("Claimed", ("operatorAddress", "address", True), ("delegator", "address", True),
           ("bnbAmount", "uint256", False)),
    _event("VoteAddressEdited", ("operatorAddress", "address", True), ("newVoteAddress", "bytes", False)),
    _event("ValidatorSlashed", ("operatorAddress", "address", True), ("jailUntil", "uint256", False),
           ("slashAmount", "uint256", False), ("slashType", "uint8", False)),
    _error("DuplicateMoniker"), _error("NoClaimableUnbondRequest"), _error("SelfDelegationNotEnough"),
    _error("InvalidVoteAddress"), _error("DuplicateVoteAddress"),
]
STAKE_CREDIT_ABI = [
    _fn("balanceOf", [_arg("address", "account")], [_arg("uint256")], "view"),
    _fn("getPooledBNB", [_arg("address", "account")], [_arg("uint256")], "view"),
    _fn("pendingUnbondRequest", [_arg("address", "delegator")], [_arg("uint256")], "view"),
    _fn("claimableUnbondRequest", [_arg("address", "delegator")], [_arg("uint256")], "view"),
]


def vote_secret(name: str) -> bytes:
    """A test BLS secret key, fixed by `name`."""
    return bls.derive_secret_key(keccak(text=name), b"smartchain tests vote key")


def vote_key(name: str, operator: bytes | str, chain_id: int = CHAIN_ID) -> tuple[bytes, bytes]:
    """(voteAddress, blsProof) for createValidator/editVoteAddress sent by `operator` on `chain_id`."""
    if isinstance(operator, str):
        operator = bytes.fromhex(operator.removeprefix("0x"))
    secret = vote_secret(name)
    return bls.public_key(secret), votes.registration_proof(secret, operator, chain_id)


DESCRIPTION = ("Operator", "op-id", "https://operator.example", "a validator made over JSON-RPC")
_VOTE_DATA = [("srcNum", "uint256"), ("srcHash", "bytes32"), ("tarNum", "uint256"), ("tarHash", "bytes32"),
              ("sig", "bytes")]
SLASH_INDICATOR_ABI = [
    _fn("submitDoubleSignEvidence", [_arg("bytes", "header1"), _arg("bytes", "header2")]),
    _fn("submitFinalityViolationEvidence", [{"type": "tuple", "name": "_evidence", "components": [
        _arg("tuple", "voteA", _VOTE_DATA), _arg("tuple", "voteB", _VOTE_DATA), _arg("bytes", "voteAddr")]}]),
    _fn("getSlashIndicator", [_arg("address", "validator")], [_arg("uint256"), _arg("uint256")], "view"),
    _error("AlreadySlashed"),
]
