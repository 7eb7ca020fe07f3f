"""The eth/68 + BSC handshake: check_status's named refusals and their disconnect reasons, and whole handshakes
between real chains over in-memory peers (same chain, another genesis, an incompatible fork id, timeouts)."""
import asyncio
import json
from dataclasses import replace

import pytest

from conftest import REPO_ROOT
from node.config import NodeConfig
from node.network.eth.chaintypes import ChainTypes
from node.network.eth.handshake import (ForkIdRejected, GenesisMismatch, HandshakeTimeout, NetworkIdMismatch,
                                        NoStatusMessage, NoUpgradeStatus, ProtocolVersionMismatch,
                                        TotalDifficultyTooLarge, check_status, handshake, local_fork_filter,
                                        local_status, local_upgrade_status)
from node.network.eth.messages import NewBlockHashes, Transactions, UpgradeStatus
from node.network.forkid import ForkId, LocalIncompatibleOrStale, RemoteStale
from node.network.memory import memory_pair
from node.network.peer import DisconnectReason, PeerDisconnected
from node.node import Node

SUBPROTOCOL_ERROR = DisconnectReason.SUBPROTOCOL_ERROR


def genesis_file(tmp_path, name, **changes):
    raw = json.loads((REPO_ROOT / "genesis.json").read_text())
    raw["config"].update(changes.pop("config", {}))
    raw.update(changes)
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture
def nodes(tmp_path):
    """Start Nodes by name: "ours" and "peer" share genesis.json; "other" has another genesis block; "lorentz" has
    our genesis block but schedules BSC's Lorentz fork 10 s after it (and has passed it)."""
    started = []

    def start(name):
        genesis = {"ours": REPO_ROOT / "genesis.json", "peer": REPO_ROOT / "genesis.json",
                   "other": genesis_file(tmp_path, "other", extraData="0x" + "01" * 32 + json.loads(
                       (REPO_ROOT / "genesis.json").read_text())["extraData"][66:]),
                   "lorentz": genesis_file(tmp_path, "lorentz", config={"lorentzTime": 0x68a00000 + 10})}[name]
        node = Node(NodeConfig(datadir=tmp_path / name, genesis=genesis, produce=False)).start()
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def test_check_status_refusals(nodes):
    chain = nodes("ours").chain
    ours = local_status(chain)
    fork_filter = local_fork_filter(chain)
    check_status(ours, ours, fork_filter)   # the same chain passes
    check_status(ours, replace(ours, total_difficulty=2**100 - 1), fork_filter)
    cases = [
        ({"network_id": 97}, NetworkIdMismatch, "network ID mismatch: 97 (!= 714)"),
        ({"version": 67}, ProtocolVersionMismatch, "protocol version mismatch: 67 (!= 68)"),
        ({"genesis": b"\x01" * 32}, GenesisMismatch, "genesis mismatch: " + "01" * 32 + f" (!= {ours.genesis.hex()})"),
        ({"fork_id": ForkId(b"\xde\xad\xbe\xef", 0)}, ForkIdRejected,
         "fork ID rejected: local incompatible or needs update"),
        ({"total_difficulty": 2**100}, TotalDifficultyTooLarge, "too large total difficulty: bitlen 101"),
    ]
    for change, error, message in cases:
        theirs = replace(ours, **change)
        with pytest.raises(error) as raised:
            check_status(ours, theirs, fork_filter)
        assert str(raised.value).startswith(message)
        assert raised.value.reason is SUBPROTOCOL_ERROR   # geth/BSC end a failed eth handshake with 0x10


def run_handshakes(a_node, b_node, timeout=5.0, b_runs=True):
    """Handshake a's and b's chains over a memory pair: (a's result, b's result, a's peer, b's peer)."""
    async def main():
        a, b = memory_pair(ChainTypes.for_chain(a_node.chain), ChainTypes.for_chain(b_node.chain))
        runs = [handshake(a, local_status(a_node.chain), local_fork_filter(a_node.chain),
                          local_upgrade_status(a_node.chain), timeout)]
        if b_runs:
            runs.append(handshake(b, local_status(b_node.chain), local_fork_filter(b_node.chain),
                                  local_upgrade_status(b_node.chain), timeout))
        results = await asyncio.gather(*runs, return_exceptions=True)
        await asyncio.sleep(0)   # let the readers take a Disconnect in flight
        return (*results, None)[:2] + (a, b)
    return asyncio.run(main())


def test_same_chain_handshake(nodes):
    ours, peer = nodes("ours"), nodes("peer")
    peer.mine(2)
    (a_status, a_upgrade), (b_status, b_upgrade), a, b = run_handshakes(ours, peer)
    assert a_status == local_status(peer.chain) and b_status == local_status(ours.chain)
    assert a_status.total_difficulty > b_status.total_difficulty   # peer is 2 blocks ahead
    assert a_upgrade == b_upgrade == UpgradeStatus(False)   # a Parlia chain: BSC's second message
    assert not a.closed and not b.closed


def test_another_genesis_is_refused(nodes):
    ours, other = nodes("ours"), nodes("other")
    assert ours.chain.genesis_hash != other.chain.genesis_hash
    a_result, b_result, a, b = run_handshakes(ours, other)
    assert isinstance(a_result, GenesisMismatch)
    assert isinstance(b_result, (GenesisMismatch, PeerDisconnected))   # whichever side noticed first
    assert a.closed and b.closed
    assert a.disconnect_reason is b.disconnect_reason is SUBPROTOCOL_ERROR


def test_an_incompatible_fork_id_is_refused_by_both_sides(nodes):
    ours, lorentz = nodes("ours"), nodes("lorentz")
    assert ours.chain.genesis_hash == lorentz.chain.genesis_hash   # the fork schedule is not in the block
    lorentz.mine()   # past Lorentz: its fork hash now includes the fork's time
    assert local_status(lorentz.chain).fork_id != local_status(ours.chain).fork_id
    # each side's own view, whatever the race: we never heard of Lorentz, it says we are stale
    with pytest.raises(ForkIdRejected) as ours_view:
        check_status(local_status(ours.chain), local_status(lorentz.chain), local_fork_filter(ours.chain))
    assert isinstance(ours_view.value.cause, LocalIncompatibleOrStale)
    with pytest.raises(ForkIdRejected) as their_view:
        check_status(local_status(lorentz.chain), local_status(ours.chain), local_fork_filter(lorentz.chain))
    assert isinstance(their_view.value.cause, RemoteStale)
    a_result, _, a, b = run_handshakes(ours, lorentz)
    assert isinstance(a_result, (ForkIdRejected, PeerDisconnected))
    assert a.closed and b.closed and a.disconnect_reason is SUBPROTOCOL_ERROR


def test_before_the_fork_both_schedules_still_agree(nodes):
    """The chain that knows Lorentz, still at its genesis (before Lorentz), announces it as its next fork; a peer
    that never heard of Lorentz accepts that (EIP-2124 rule 1: same fork hash, an uncertain future fork)."""
    ours, lorentz = nodes("ours"), nodes("lorentz")
    announced = local_status(lorentz.chain)   # head = genesis, before Lorentz
    assert announced.fork_id.next == 0x68a00000 + 10
    check_status(local_status(ours.chain), announced, local_fork_filter(ours.chain))


def test_a_silent_peer_times_out(nodes):
    ours, peer = nodes("ours"), nodes("peer")
    a_result, _, a, b = run_handshakes(ours, peer, timeout=0.05, b_runs=False)
    assert isinstance(a_result, HandshakeTimeout) and str(a_result).startswith("read timeout: no status message")
    assert a.disconnect_reason is b.disconnect_reason is DisconnectReason.READ_TIMEOUT


@pytest.mark.parametrize("first, second, error, message", [
    (Transactions(()), None, NoStatusMessage, "no status message: first msg has code 0x2 (!= 0x0)"),
    ("status", NewBlockHashes(()), NoUpgradeStatus, "upgrade status msg has code 0x1 (!= 0xb)"),
])
def test_wrong_handshake_messages(nodes, first, second, error, message):
    ours = nodes("ours")

    async def main():
        a, b = memory_pair(ChainTypes.for_chain(ours.chain))
        for message_ in (first, second):
            if message_ is not None:
                await b.send(local_status(ours.chain) if message_ == "status" else message_)
        with pytest.raises(error) as raised:
            await handshake(a, local_status(ours.chain), local_fork_filter(ours.chain), UpgradeStatus())
        await asyncio.sleep(0)
        return raised.value, b
    raised, b = asyncio.run(main())
    assert str(raised) == message and b.disconnect_reason is SUBPROTOCOL_ERROR


def test_without_upgrade_status_on_an_ethereum_network(nodes):
    """upgrade=None (a chain without Parlia): Status alone, and no UpgradeStatus expected."""
    ours = nodes("ours")

    async def main():
        a, b = memory_pair(ChainTypes.for_chain(ours.chain))
        status, fork_filter = local_status(ours.chain), local_fork_filter(ours.chain)
        return await asyncio.gather(handshake(a, status, fork_filter, None), handshake(b, status, fork_filter, None))
    (a_status, a_upgrade), (b_status, b_upgrade) = asyncio.run(main())
    assert a_status == b_status == local_status(ours.chain) and a_upgrade is b_upgrade is None
