"""eth_config (EIP-7910) and eth_capabilities: what this node runs and what history it can serve.

eth_config describes the timestamp fork in force at the head (`current`), the next scheduled one and the last:
activation time, blob parameters, chain id, EIP-2124 fork id, the precompiles the node's VM really has for that fork
and the system contracts the fork uses. A fork py-evm lacks runs on its latest VM: its precompiles are that VM's.
"""
from __future__ import annotations

import binascii

from rpc import encode   # geth's precompile names by address
PRECOMPILE_NAMES = {
    1: "ECREC", 2: "SHA256", 3: "RIPEMD160", 4: "ID", 5: "MODEXP", 6: "BN254_ADD", 7: "BN254_MUL",
    8: "BN254_PAIRING", 9: "BLAKE2F", 0x0a: "KZG_POINT_EVALUATION", 0x0b: "BLS12_G1ADD", 0x0c: "BLS12_G1MSM",
    0x0d: "BLS12_G2ADD", 0x0e: "BLS12_G2MSM", 0x0f: "BLS12_PAIRING_CHECK", 0x10: "BLS12_MAP_FP_TO_G1",
    0x11: "BLS12_MAP_FP2_TO_G2", 0x100: "P256VERIFY",
}
BEACON_ROOTS = "0x000f3df6d732807ef1319fb7b8bb8522d0beac02"               # EIP-4788
HISTORY_STORAGE = "0x0000f90827f1c53a10cb7a02335b175320002935"            # EIP-2935
WITHDRAWAL_REQUESTS = "0x00000961ef480eb55e80d19ad83579a64c007002"        # EIP-7002
CONSOLIDATION_REQUESTS = "0x0000bbddc7ce488642fb579f8b00f3a590007251"     # EIP-7251
TIME_FORK_ORDER = ("shanghai", "cancun", "prague", "osaka", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5", "amsterdam",
                   "verkle")
# the timestamp forks eth_config reports (geth's LatestFork: Cancun onwards)
CONFIG_FORKS = TIME_FORK_ORDER[1:]
RETENTION = {"disabled": False, "oldestBlock": "0x0"}


def fork_id(config, genesis_hash: bytes, genesis_time: int, until_time: int) -> bytes:
    """EIP-2124: CRC32 of the genesis hash and every fork block and time passed (block forks all, time forks up to
    `until_time`), zeros and genesis-time forks left out, duplicates once."""
    blocks = sorted({n for n in config.block_forks.values() if n > 0})
    times = sorted({t for t in config.time_forks.values() if t > genesis_time and t <= until_time})
    checksum = binascii.crc32(genesis_hash)
    for value in blocks + times:
        checksum = binascii.crc32(value.to_bytes(8, "big"), checksum)
    return checksum.to_bytes(4, "big")


def _fork_times(node) -> list[tuple[str, int]]:
    """(name, activation time) of eth_config's forks, in order."""
    return [(f.name, f.time) for f in node.chain.schedule.forks if f.time is not None and f.name in CONFIG_FORKS]


def _describe(node, name: str, time: int) -> dict:
    chain = node.chain
    genesis = chain.header_by_number(0)
    fork = next(f for f in chain.schedule.forks if f.name == name)
    params = chain.schedule.blob_params(fork)
    computation = fork.vm_class.get_state_class().computation_class
    precompiles = {PRECOMPILE_NAMES.get(int.from_bytes(a, "big"), "0x" + a.hex()): encode.address(a)
                   for a in computation._precompiles}
    system = {}
    if TIME_FORK_ORDER.index(name) >= TIME_FORK_ORDER.index("cancun"):
        system["BEACON_ROOTS_ADDRESS"] = BEACON_ROOTS
    if TIME_FORK_ORDER.index(name) >= TIME_FORK_ORDER.index("prague"):
        system["CONSOLIDATION_REQUEST_PREDEPLOY_ADDRESS"] = CONSOLIDATION_REQUESTS
        system["DEPOSIT_CONTRACT_ADDRESS"] = encode.data(chain.config.deposit_contract or b"\0" * 20)
        system["HISTORY_STORAGE_ADDRESS"] = HISTORY_STORAGE
        system["WITHDRAWAL_REQUEST_PREDEPLOY_ADDRESS"] = WITHDRAWAL_REQUESTS
    return {
        "activationTime": 0 if genesis.timestamp >= time else time,
        "blobSchedule": None if params is None else {
            "target": params.target, "max": params.max, "baseFeeUpdateFraction": params.base_fee_update_fraction},
        "chainId": encode.quantity(chain.config.chain_id),
        "forkId": encode.data(fork_id(chain.config, genesis.hash, genesis.timestamp, time)),
        "precompiles": dict(sorted(precompiles.items())),
        "systemContracts": system,
    }


def config(node) -> dict:
    """eth_config: the fork in force at the head, the next one scheduled and the last (null when none is)."""
    head_time = node.chain.head.timestamp
    forks = _fork_times(node)
    current = next((f for f in reversed(forks) if f[1] <= head_time), None)
    future = [f for f in forks if f[1] > head_time]
    return {
        "current": None if current is None else _describe(node, *current),
        "next": _describe(node, *future[0]) if future else None,
        "last": _describe(node, *future[-1]) if future else None,
    }


def capabilities(node) -> dict:
    """eth_capabilities: this node keeps everything from genesis (an archive node without pruning)."""
    head = node.chain.head
    return {
        "head": {"number": encode.quantity(head.block_number), "hash": encode.data(head.hash)},
        **{resource: dict(RETENTION) for resource in ("state", "tx", "logs", "receipts", "blocks", "stateproofs")},
    }
