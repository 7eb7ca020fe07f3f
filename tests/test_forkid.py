"""EIP-2124 / EIP-6122 fork ids: the EIPs' own mainnet vectors (checksums, validation outcomes, RLP), our dev chain's
fork id against a CRC computed here bit by bit, and the execution-apis chain's against geth's recorded eth_config."""
import json

import pytest

from conftest import REPO_ROOT, shared_path
from node.chain.chain import Chain
from node.chain.db import LmdbDB
from node.chain.genesis import load_genesis, parse_genesis
from node.network.forkid import (UINT64_MAX, ForkFilter, ForkId, LocalIncompatibleOrStale, RemoteStale, fork_id,
                                 gather_forks)

MAINNET_GENESIS = bytes.fromhex("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3")
# mainnet up to Petersburg, as EIP-2124's tables were written
PETERSBURG = {"chainId": 1, "homesteadBlock": 1150000, "daoForkBlock": 1920000, "eip150Block": 2463000,
              "eip155Block": 2675000, "eip158Block": 2675000, "byzantiumBlock": 4370000,
              "constantinopleBlock": 7280000, "petersburgBlock": 7280000}
# EIP-6122's "withdrawal config": mainnet through Gray Glacier, a merge netsplit block and a timestamp fork
WITHDRAWALS = {**PETERSBURG, "istanbulBlock": 9069000, "muirGlacierBlock": 9200000, "berlinBlock": 12244000,
               "londonBlock": 12965000, "arrowGlacierBlock": 13773000, "grayGlacierBlock": 15050000,
               "mergeNetsplitBlock": 18000000, "shanghaiTime": 1668000000}


def config(forks: dict):
    return parse_genesis({"config": forks, "alloc": {}})


def fid(checksum: int, next_: int) -> ForkId:
    return ForkId(checksum.to_bytes(4, "big"), next_)


# EIP-6122 "Test Cases" (its first half is EIP-2124's mainnet table, with the later forks)
@pytest.mark.parametrize("head, time, want", [
    (0, 0, fid(0xfc64ec04, 1150000)),             # unsynced
    (1149999, 0, fid(0xfc64ec04, 1150000)),       # last Frontier block
    (1150000, 0, fid(0x97c2c34c, 1920000)),       # first Homestead block
    (1919999, 0, fid(0x97c2c34c, 1920000)),
    (1920000, 0, fid(0x91d1f948, 2463000)),       # first DAO block
    (2462999, 0, fid(0x91d1f948, 2463000)),
    (2463000, 0, fid(0x7a64da13, 2675000)),       # Tangerine Whistle
    (2674999, 0, fid(0x7a64da13, 2675000)),
    (2675000, 0, fid(0x3edd5b10, 4370000)),       # Spurious Dragon
    (4369999, 0, fid(0x3edd5b10, 4370000)),
    (4370000, 0, fid(0xa00bc324, 7280000)),       # Byzantium
    (7279999, 0, fid(0xa00bc324, 7280000)),
    (7280000, 0, fid(0x668db0af, 9069000)),       # Constantinople and Petersburg at one block
    (9068999, 0, fid(0x668db0af, 9069000)),
    (9069000, 0, fid(0x879d6e30, 9200000)),       # Istanbul
    (9199999, 0, fid(0x879d6e30, 9200000)),
    (9200000, 0, fid(0xe029e991, 12244000)),      # Muir Glacier
    (12243999, 0, fid(0xe029e991, 12244000)),
    (12244000, 0, fid(0x0eb440f6, 12965000)),     # Berlin
    (12964999, 0, fid(0x0eb440f6, 12965000)),
    (12965000, 0, fid(0xb715077d, 13773000)),     # London
    (13772999, 0, fid(0xb715077d, 13773000)),
    (13773000, 0, fid(0x20c327fc, 15050000)),     # Arrow Glacier
    (15049999, 0, fid(0x20c327fc, 15050000)),
    (15050000, 0, fid(0xf0afd0e3, 18000000)),     # Gray Glacier
    (18000000, 0, fid(0x4fb8a872, 1668000000)),   # merge netsplit block: next is a timestamp
    (20000000, 0, fid(0x4fb8a872, 1668000000)),
    (20000000, 1668000000, fid(0xc1fdf181, 0)),   # the timestamp fork passed
    (20000000, 2668000000, fid(0xc1fdf181, 0)),
])
def test_mainnet_fork_ids(head, time, want):
    assert fork_id(config(WITHDRAWALS), MAINNET_GENESIS, head, time) == want


def test_the_eips_worked_checksums():
    # EIP-2124's forkhash0..2 and EIP-6122's homestead + a fork at time 1668000000
    ids = [fork_id(config(PETERSBURG), MAINNET_GENESIS, head, 0).hash.hex() for head in (0, 1150000, 1920000)]
    assert ids == ["fc64ec04", "97c2c34c", "91d1f948"]
    fictional = config({"chainId": 1, "homesteadBlock": 1150000, "shanghaiTime": 1668000000})
    assert fork_id(fictional, MAINNET_GENESIS, 1150000, 1668000000).hash.hex() == "cb37b2ee"


# EIP-2124's validation table (mainnet capped at Petersburg)
@pytest.mark.parametrize("head, remote, error", [
    (7987396, fid(0x668db0af, 0), None),                    # same fork, no future fork announced
    (7987396, fid(0x668db0af, UINT64_MAX), None),           # same fork, an uncertain future fork
    (7279999, fid(0xa00bc324, 0), None),                    # both Byzantium; remote unaware of Petersburg
    (7279999, fid(0xa00bc324, 7280000), None),              # both Byzantium; remote aware of Petersburg
    (7279999, fid(0xa00bc324, UINT64_MAX), None),           # both Byzantium; remote knows some other fork
    (7987396, fid(0xa00bc324, 7280000), None),              # remote out of sync (subset, right next fork)
    (7987396, fid(0x3edd5b10, 4370000), None),              # remote far out of sync
    (7279999, fid(0x668db0af, 0), None),                    # local out of sync (superset)
    (4369999, fid(0xa00bc324, 0), None),                    # local out of sync, knows a later fork
    (7987396, fid(0xa00bc324, 0), RemoteStale),             # remote needs a software update
    (7987396, fid(0x5cddc0e1, 0), LocalIncompatibleOrStale),   # remote has a fork we do not know
    (7279999, fid(0x5cddc0e1, 0), LocalIncompatibleOrStale),
    (7987396, fid(0xafec6b27, 0), LocalIncompatibleOrStale),   # Rinkeby
])
def test_eip2124_validation(head, remote, error):
    check = ForkFilter(config(PETERSBURG), MAINNET_GENESIS, lambda: (head, 0)).check
    if error is None:
        check(remote)
    else:
        with pytest.raises(error):
            check(remote)


# EIP-6122's validation table (block and time forks)
@pytest.mark.parametrize("head, time, remote, error", [
    (20000000, 1668000001, fid(0xc1fdf181, 0), None),
    (20000000, 1668000001, fid(0xc1fdf181, UINT64_MAX), None),
    (7279999, 1667999999, fid(0xa00bc324, 0), None),
    (7279999, 1667999999, fid(0xa00bc324, 7280000), None),
    (7279999, 1667999999, fid(0xa00bc324, UINT64_MAX), None),
    (20000000, 1668000000, fid(0xa00bc324, 7280000), None),   # exactly on the timestamp fork
    (20000000, 1668000001, fid(0xa00bc324, 7280000), None),
    (20000000, 1668000001, fid(0x3edd5b10, 4370000), None),
    (7279999, 1667999999, fid(0x668db0af, 0), None),
    (4369999, 1667999999, fid(0xa00bc324, 0), None),
    (20000000, 1668000001, fid(0xa00bc324, 0), RemoteStale),
    (20000000, 1668000001, fid(0x5cddc0e1, 0), LocalIncompatibleOrStale),
    (20000000, 1668000001, fid(0xafec6b27, 0), LocalIncompatibleOrStale),
    (88888888, 1668000001, fid(0xf0afd0e3, 88888888), RemoteStale),   # a fork at a block we passed
    (20000000, 1668000001, fid(0xa00bc324, 7279999), RemoteStale),    # a fork before Petersburg
])
def test_eip6122_validation(head, time, remote, error):
    check = ForkFilter(config(WITHDRAWALS), MAINNET_GENESIS, lambda: (head, time)).check
    if error is None:
        check(remote)
    else:
        with pytest.raises(error):
            check(remote)


@pytest.mark.parametrize("forkid, encoded", [   # EIP-2124's RLP cases
    (fid(0, 0), "c6840000000080"),
    (fid(0xdeadbeef, 0xBADDCAFE), "ca84deadbeef84baddcafe"),
    (fid(0xFFFFFFFF, UINT64_MAX), "ce84ffffffff88ffffffffffffffff"),
])
def test_fork_id_rlp(forkid, encoded):
    assert forkid.encode().hex() == encoded
    import rlp
    assert ForkId.deserialize(rlp.decode(bytes.fromhex(encoded))) == forkid


def crc32_by_hand(data: bytes, crc: int = 0) -> int:
    """IEEE 802.3 CRC32 (reflected polynomial 0xEDB88320), bit by bit, to check the library's table-driven one."""
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0xEDB88320 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def genesis_hash_of(cfg, tmp_path) -> bytes:
    db = LmdbDB(tmp_path / "db")
    try:
        return Chain(db, cfg).genesis_hash
    finally:
        db.close()


def test_our_chain_fork_id(tmp_path):
    cfg = load_genesis(REPO_ROOT / "genesis.json")
    genesis = genesis_hash_of(cfg, tmp_path)
    # every fork of genesis.json is at block 0 or at/before the genesis time: none counts, nothing is next
    assert gather_forks(cfg) == ((), ())
    assert fork_id(cfg, genesis, 0, cfg.timestamp) == ForkId(crc32_by_hand(genesis).to_bytes(4, "big"), 0)
    assert crc32_by_hand(bytes.fromhex("d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3")) \
        == 0xfc64ec04   # the hand CRC itself agrees with EIP-2124's genesis checksum


def test_a_parlia_chain_with_a_bsc_fork_scheduled(tmp_path):
    raw = json.loads((REPO_ROOT / "genesis.json").read_text())
    lorentz = int(raw["timestamp"], 16) + 100
    raw["config"].update(lorentzTime=lorentz, maxwellTime=lorentz, planckBlock=0, lubanBlock=50)
    cfg = parse_genesis(raw)
    genesis = genesis_hash_of(cfg, tmp_path)
    assert gather_forks(cfg) == ((50,), (lorentz,))   # block 0 and a repeated time counted once or not at all
    base = crc32_by_hand(genesis)
    after_luban = crc32_by_hand((50).to_bytes(8, "big"), base)
    after_lorentz = crc32_by_hand(lorentz.to_bytes(8, "big"), after_luban)
    assert fork_id(cfg, genesis, 49, cfg.timestamp + 49) == fid(base, 50)
    assert fork_id(cfg, genesis, 50, cfg.timestamp + 50) == fid(after_luban, lorentz)
    assert fork_id(cfg, genesis, 150, lorentz) == fid(after_lorentz, 0)
    # a node still before Lorentz accepts one past it (local out of sync); one past it refuses a peer that has
    # not heard of Lorentz (its next is 0, stale)
    ForkFilter(cfg, genesis, lambda: (60, lorentz - 1)).check(fid(after_lorentz, 0))
    with pytest.raises(RemoteStale):
        ForkFilter(cfg, genesis, lambda: (150, lorentz)).check(fid(after_luban, 0))
    with pytest.raises(LocalIncompatibleOrStale):   # another genesis
        ForkFilter(cfg, genesis, lambda: (0, cfg.timestamp)).check(fid(crc32_by_hand(b"\1" * 32), 0))


def test_the_execution_apis_chain_matches_geths_eth_config(tmp_path):
    """geth recorded eth_config on this chain (time forks through bpo2 at 540): the fork id there is geth's."""
    tests = shared_path("conformance", "execution-apis", "tests")
    cfg = load_genesis(tests / "genesis.json")
    recorded = next(json.loads(line[3:]) for line in (tests / "eth_config" / "get-config.io").read_text().splitlines()
                    if line.startswith("<<"))["result"]["current"]
    genesis = genesis_hash_of(cfg, tmp_path)
    got = fork_id(cfg, genesis, 10**6, recorded["activationTime"])
    assert "0x" + got.hash.hex() == recorded["forkId"] and got.next == 0
    # one second earlier bpo2 is the next fork
    assert fork_id(cfg, genesis, 10**6, recorded["activationTime"] - 1).next == recorded["activationTime"]
