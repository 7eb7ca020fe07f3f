"""A sample devnet test: a standby node stakes through StakeHub and is elected into the validator set."""
import json
import os
from pathlib import Path

from consensus import bls, votes

ETHER = 10**18


def test_a_new_validator_stakes_is_elected_and_seals(devnet, accounts):
    newcomer = devnet.standby[0]
    assert newcomer not in devnet.validators()
    operator = accounts[5].address
    hub = devnet.stake_hub
    # a BLS vote key and its registration proof for this operator and chain, which StakeHub checks as BSC does
    secret = bls.derive_secret_key(b"newcomer", b"sample vote key")
    proof = votes.registration_proof(secret, bytes.fromhex(operator[2:]), devnet.w3.eth.chain_id)
    tx = hub.functions.createValidator(newcomer, bls.public_key(secret), proof, (500, 2000, 100),
                                       ("Newcomer", "new", "https://new.example", "joins")
                                       ).transact({"from": operator, "value": 3_000 * ETHER})
    assert devnet.mined(tx).status == 1
    devnet.run_to_epoch()                       # elected at the epoch block ...
    sealed = devnet.run(devnet.epoch)           # ... and in force a few blocks later
    assert newcomer in devnet.validators()
    assert any(b.header.coinbase == bytes.fromhex(newcomer[2:]) for b in sealed)
    assert devnet.agree()
    folder = os.environ.get("SAMPLE_REPORT_DIR")
    if folder:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        Path(folder, f"devnet-{worker}-{os.getpid()}.json").write_text(json.dumps({"head": devnet.head}))
