"""The peer manager and the service's promises: the loop keeps serving while an import is held up (and eth_syncing
shows the sync), admission (max peers, duplicates, self), static peers added and removed by enode, and the pieces
those rest on (bounded known-sets, the announcement window, the sqrt(n) split, the duplicate tie-break)."""
from __future__ import annotations

from contextlib import ExitStack

from node.network.eth.messages import GetBlockHeaders
from node.network.knownset import KnownSet
from node.network.memorylink import MemoryHub, link
from node.network.peer import DisconnectReason
from node.network.peers import ANNOUNCE_WINDOW, MAX_ANNOUNCEMENTS, PeerSet, PeerState
from test_network_kit import (refused_peer, scripted_peer, seal, shared_loop, start_node, start_service, wait_for,
                              write_genesis)


def test_requests_are_answered_while_an_import_waits_and_eth_syncing_reports_the_sync(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        seal(a, clock, 300)
        loop = shared_loop(stack)
        net_a, net_b = start_service(stack, a, loop), start_service(stack, b, loop)
        assert net_b.syncing() is None
        with b.producer.lock:   # every import into b now waits (the producer holds this lock while it seals)
            link(net_b, net_a)
            wait_for(lambda: net_b.syncing() is not None, 10, "b's sync to start")
            progress = net_b.syncing()
            assert progress == {"startingBlock": 0, "currentBlock": 0, "highestBlock": 300}
            peer = scripted_peer(net_b, b.chain, td=0)
            answer = loop.run(peer.request(GetBlockHeaders(0, 0, 1), timeout=2.0), timeout=5)
            assert [h.hash for h in answer.headers] == [b.chain.genesis_hash]
        wait_for(lambda: b.chain.head.hash == a.chain.head.hash, 20, "b to finish syncing")
        wait_for(lambda: net_b.syncing() is None, 5, "eth_syncing to say false again")


def test_admission_max_peers_duplicates_and_self(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        b = start_node(stack, genesis, keys[0], clock)
        net_b = start_service(stack, b, max_peers=1)
        first = scripted_peer(net_b, b.chain, name="first")
        wait_for(lambda: net_b.peer_count == 1, 5, "the first peer")
        for name, reason in (("first", DisconnectReason.ALREADY_CONNECTED), ("second", DisconnectReason.TOO_MANY_PEERS),
                             (net_b.id, DisconnectReason.SELF)):
            refused = refused_peer(net_b, name)
            assert refused.disconnect_reason == reason, name
        assert net_b.peer_count == 1 and not first.closed


def test_add_and_remove_peer_by_enode(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        net_a = start_service(stack, a, listen=("127.0.0.1", 0))
        net_b = start_service(stack, b, listen=("127.0.0.1", 0))
        assert net_b.add_peer(net_a.enode) is True
        wait_for(lambda: net_a.peer_count == net_b.peer_count == 1, 10, "b to dial a")
        [info] = net_b.peers_info()
        assert info["enode"] == net_a.enode and info["network"]["static"] and not info["network"]["inbound"]
        assert info["name"].startswith("smartchain/")
        assert net_b.remove_peer(net_a.enode) is True
        wait_for(lambda: net_a.peer_count == net_b.peer_count == 0, 10, "the peer to go")
        assert not net_b.dialer.is_static(net_a.id)


def test_static_memory_peer_is_redialled_after_its_service_restarts(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        loop = shared_loop(stack)
        hub = MemoryHub()
        net_a, net_b = (hub.join(start_service(stack, n, loop)) for n in (a, b))
        hub.link(net_b, net_a.id)
        wait_for(lambda: net_b.peer_count == 1, 5, "the link")
        net_a.stop()
        wait_for(lambda: net_b.peer_count == 0, 5, "b to see a go")
        net_a2 = hub.join(start_service(stack, a, loop, node_key=net_a.node_key))
        wait_for(lambda: net_b.peer_count == 1 and net_a2.peer_count == 1, 10, "b to redial a")


# -- the pieces --------------------------------------------------------------------------------------------------------
def test_known_set_keeps_the_newest():
    known = KnownSet(3)
    for i in range(5):
        known.add(bytes([i]))
    assert len(known) == 3 and bytes([0]) not in known and bytes([4]) in known
    known.add(bytes([2]))   # seen again: now the newest
    known.add(bytes([5]))
    assert bytes([2]) in known and bytes([3]) not in known


class _FakePeer:   # PeerState only reads the id (unit test of the set's bookkeeping)
    def __init__(self, peer_id):
        self.id = peer_id


def _state(peer_id, inbound=False, td=1):
    from node.network.eth.messages import Status
    from node.network.forkid import ForkId
    status = Status(68, 1, td, b"\x01" * 32, b"\x02" * 32, ForkId(b"\0\0\0\0", 0))
    return PeerState(_FakePeer(peer_id), status, inbound=inbound)


def test_announcement_window():
    state = _state("p")
    assert all(state.note_announcement(now=100.0) for _ in range(MAX_ANNOUNCEMENTS))
    assert not state.note_announcement(now=100.0)
    assert state.note_announcement(now=100.0 + ANNOUNCE_WINDOW + 0.01)   # the window moved on


def test_duplicate_connection_keeps_the_one_the_lower_id_dialled():
    low, high = PeerSet("aa"), PeerSet("bb")
    # each side already has the connection the other dialled; the new one in the other direction arrives
    low.add(_state("bb", inbound=True))
    high.add(_state("aa", inbound=False))
    assert low.refusal("bb", inbound=False, static=True) is None            # "aa" dialled it: it wins on aa's side
    assert high.refusal("aa", inbound=True, static=False) is None           # and on bb's side
    assert low.refusal("bb", inbound=True, static=False) == DisconnectReason.ALREADY_CONNECTED


def test_sqrt_split_and_best_peer():
    peers = PeerSet("self")
    states = [_state(f"p{i}", td=i) for i in range(9)]
    for state in states:
        peers.add(state)
    states[0].known_blocks.add(b"x")
    whole, hashes = peers.split_lacking(lambda s: b"x" in s.known_blocks)
    assert len(whole) == 3 and len(hashes) == 5 and states[0] not in whole + hashes
    assert peers.best() is states[8]


def test_partition_and_heal_through_a_memory_hub(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b, c = (start_node(stack, genesis, keys[0], clock) for _ in range(3))
        loop = shared_loop(stack)
        hub = MemoryHub()
        net_a, net_b, net_c = (hub.join(start_service(stack, n, loop)) for n in (a, b, c))
        hub.link(net_b, net_a.id)
        hub.link(net_c, net_a.id)
        hub.link(net_c, net_b.id)
        wait_for(lambda: net_a.peer_count == net_b.peer_count == net_c.peer_count == 2, 10, "the mesh")
        hub.partition([net_a.id, net_b.id])   # c alone
        wait_for(lambda: net_c.peer_count == 0 and net_a.peer_count == net_b.peer_count == 1, 5, "the cut")
        blocks = seal(a, clock, 2)
        wait_for(lambda: b.chain.head.hash == blocks[-1].hash, 5, "b, on a's side, to follow")
        assert c.chain.head.block_number == 0 and net_c.peer_count == 0   # c's redials are refused
        hub.heal()
        wait_for(lambda: c.chain.head.hash == blocks[-1].hash and net_c.peer_count == 2, 10, "c to rejoin, catch up")


def test_in_process_network_of_four_validators(tmp_path):
    from node.network.inprocess import InProcessNetwork
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 4)
        nodes = [start_node(stack, genesis, key, clock) for key in keys]
        net = InProcessNetwork()
        stack.callback(net.stop)
        for node in nodes:
            net.add(node)
        wait_for(lambda: all(s.peer_count == 3 for s in net.services), 10, "every node with 3 peers")
        by_address = {n.producer.address: n for n in nodes}
        for _ in range(6):   # whoever is in turn seals; every node follows
            head = nodes[0].chain.head
            sealer = by_address[nodes[0].chain.engine.in_turn_validator(head)]
            [block] = seal(sealer, clock)
            wait_for(lambda: all(n.chain.head.hash == block.hash for n in nodes), 10, f"block {block.number}")
        old = net.services[2]
        net.restart(2)
        # the old service's peers were told it quit (no half-open connections left behind), the new one rejoined
        wait_for(lambda: all(s.peer_count == 3 for s in net.services), 10, "node 2 back with 3 peers")
        assert old.peer_count == 0
        head = nodes[0].chain.head
        [block] = seal(by_address[nodes[0].chain.engine.in_turn_validator(head)], clock)
        wait_for(lambda: all(n.chain.head.hash == block.hash for n in nodes), 10, "a block after the restart")
