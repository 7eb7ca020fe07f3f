"""The in-process Devnet over the real network code: its nodes are NetworkServices joined by in-memory peers, blocks
reach the others as eth messages through sync and gossip, and a block a node refuses is booked in `rejected`."""
from node.dev.devnet import Devnet
from node.network.eth.messages import NewBlock

from test_network_kit import scripted_peer


def test_devnet_nodes_are_peers_and_blocks_travel_as_eth_messages():
    with Devnet(validators=4) as net:
        services = net.network.net.services
        assert [s.peer_count for s in services] == [3, 3, 3, 3]
        blocks = net.run(8)
        assert all(len(net.heads()) == 1 and m.head.hash == blocks[-1].hash for m in net.members)
        # every node imported the 6 blocks others sealed through its network's import path (its count is taken on
        # the network loop, just after the import thread returned)
        for member, service in zip(net.members, services):
            theirs = sum(b.header.coinbase != member.address for b in blocks)
            net.network.wait_until(lambda: service.importer.imported >= theirs, "the importer's count", timeout=5)
            assert service.importer.imported == theirs
        assert all(sum(peer.peer.sent_frames for peer in s.peers) > 0 for s in services)


def test_a_stopped_validator_has_no_peers_and_rejoins_with_all_of_them():
    with Devnet(validators=3) as net:
        net.run(3)
        net.stop_validator(2)
        services = net.network.net.services
        assert services[2].peer_count == 0 and services[0].peer_count == services[1].peer_count == 1
        net.run(4)
        net.start_validator(2)
        assert [s.peer_count for s in net.network.net.services] == [2, 2, 2]
        assert net.members[2].head.hash == net.members[0].head.hash


def test_a_block_a_node_refuses_is_booked_and_its_sender_dropped():
    with Devnet(validators=2) as net:
        [block] = net.run(1)
        receiver = next(m for m in net.members if m.address != block.header.coinbase)
        service = net.network.net.services[receiver.index]
        # a header whose seal no longer matches: the engine refuses it (another signer than the one sealing)
        forged = block.copy(header=block.header.copy(gas_limit=block.header.gas_limit - 1))
        parent = receiver.node.chain.header_by_hash(block.header.parent_hash)
        td = receiver.node.chain.chaindb.get_score(parent.hash) + forged.header.difficulty
        peer = scripted_peer(service, receiver.node.chain)
        service.loop.run(peer.send(NewBlock(forged, td)))
        net.network.wait_until(lambda: bool(receiver.rejected), "the forged block refused", timeout=10)
        assert receiver.rejected[0][0] == block.number
        assert receiver.node.chain.header_by_hash(forged.hash) is None
