"""The same network over real RLPx on 127.0.0.1: nodes in one process, each NetworkService on its own loop thread,
dialling each other by enode URL."""
from __future__ import annotations

from contextlib import ExitStack

from chainkit import sign
from node.dev.accounts import dev_accounts
from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status
from node.network.eth.messages import NewBlock
from node.network.peer import DisconnectReason
from node.network.rlpx.connection import RlpxConnection
from node.network.rlpx.crypto import keccak256, new_private_key, public_key
from node.network.rlpx.nodekey import parse_enode
from node.network.rlpx.rlpxpeer import RlpxPeer
from node.network.service import NetworkService
from test_network_kit import seal, shared_loop, start_node, start_service, wait_for, write_genesis

ALICE, BOB = dev_accounts()[1:3]
LOCAL = ("127.0.0.1", 0)


def test_sync_gossip_and_transactions_over_rlpx(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 2)
        a, b, c = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[1], clock), \
            start_node(stack, genesis, keys[0], clock)
        for _ in range(150):   # the two validators take turns (before the network runs): 300 blocks
            [x] = seal(a, clock)
            b.import_block(x)
            [y] = seal(b, clock)
            a.import_block(y)
        net_a = start_service(stack, a, listen=LOCAL)
        net_b = start_service(stack, b, listen=LOCAL, static_peers=[net_a.enode])
        net_c = start_service(stack, c, listen=LOCAL, static_peers=[net_a.enode, net_b.enode])
        wait_for(lambda: net_a.peer_count == net_b.peer_count == net_c.peer_count == 2, 15, "a full mesh")
        wait_for(lambda: c.chain.head.hash == a.chain.head.hash, 20, "c to sync a's 300 blocks")
        assert c.chain.head.block_number == 300
        infos = net_a.peers_info()
        assert sorted(i["id"] for i in infos) == sorted([net_b.id, net_c.id])
        assert all(i["caps"] == ["eth/68"] and i["protocols"] == {"eth": {"version": 68}} for i in infos)
        assert {i["network"]["inbound"] for i in infos} == {True}
        assert net_a.node_info()["enode"] == net_a.enode and net_a.listening

        for sealer in (a, b):
            [block] = seal(sealer, clock)
            wait_for(lambda: all(n.chain.head.hash == block.hash for n in (a, b, c)), 10, f"block {block.number}")
        raw = sign(ALICE, 0, to=BOB.address, value=777)
        tx_hash = c.send_raw_transaction(raw)
        wait_for(lambda: tx_hash in a.pool and tx_hash in b.pool, 10, "the transaction in a's and b's pools")
        [block] = seal(a, clock)
        assert [tx.hash for tx in block.transactions] == [tx_hash]
        wait_for(lambda: all(n.chain.head.hash == block.hash for n in (a, b, c)), 10, "the mined tx everywhere")


def test_restarted_peer_is_redialled(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        key = new_private_key()
        net_a = NetworkService(a, node_key=key, listen=LOCAL).start()
        stack.callback(net_a.stop)   # stopping twice is a no-op
        port = net_a.server.port
        net_b = start_service(stack, b, listen=LOCAL, static_peers=[net_a.enode])
        wait_for(lambda: net_b.peer_count == 1, 10, "b to dial a")
        net_a.stop()
        wait_for(lambda: net_b.peer_count == 0, 10, "b to see a go")
        blocks = seal(a, clock, 2)   # a moves on while its network is down
        net_a = start_service(stack, a, node_key=key, listen=("127.0.0.1", port))
        wait_for(lambda: net_b.peer_count == 1, 15, "b to redial the restarted a")
        wait_for(lambda: b.chain.head.hash == blocks[-1].hash, 10, "b to sync what a sealed meanwhile")
        assert net_b.dialer.dials >= 2


def test_invalid_block_over_rlpx_disconnects_and_node_keeps_serving(tmp_path):
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        a, b = start_node(stack, genesis, keys[0], clock), start_node(stack, genesis, keys[0], clock)
        seal(a, clock, 2)
        net_b = start_service(stack, b, listen=LOCAL)
        enode = parse_enode(net_b.enode)
        loop = shared_loop(stack)   # the liar's own loop
        liar_key = new_private_key()

        async def lie():
            config = net_b.connection_config
            connection = await RlpxConnection.dial(liar_key, enode.pubkey, enode.host, enode.port, config)
            peer = RlpxPeer(connection, net_b.types)
            peer.start()
            await handshake(peer, local_status(b.chain), local_fork_filter(b.chain), local_upgrade_status(b.chain))
            good = a.chain.block_by_number(1)
            await peer.send(NewBlock(good.copy(header=good.header.copy(gas_used=1)), 10**6))
            try:
                while True:
                    await peer.receive()
            except Exception:
                return peer
        peer = loop.run(lie(), timeout=15)
        assert peer.disconnect_reason == DisconnectReason.USELESS_PEER and not peer.disconnected_by_us
        assert peer.id == net_b.id and net_b.peers.is_banned(keccak256(public_key(liar_key)).hex())
        net_a = start_service(stack, a, listen=LOCAL, static_peers=[net_b.enode])
        wait_for(lambda: b.chain.head.hash == a.chain.head.hash, 15, "b to sync from an honest peer")
        assert net_a.peer_count == 1


def test_nodes_naming_each_other_keep_one_connection_and_enode_files(tmp_path):
    from node.network.launch import start_network
    from node.network.rlpx.nodekey import enode_url, load_or_create_nodekey
    with ExitStack() as stack:
        genesis, keys, clock = write_genesis(tmp_path, 1)
        nodes = [start_node(stack, genesis, keys[0], clock) for _ in range(2)]
        dirs = [tmp_path / f"node{i}" for i in range(2)]
        enodes = [enode_url(load_or_create_nodekey(d), "127.0.0.1", free_port()) for d in dirs]
        services = [start_network(n, d, port=int(e.rsplit(":", 1)[1]), peers=[other])
                    for n, d, e, other in zip(nodes, dirs, enodes, reversed(enodes))]
        for service in services:
            stack.callback(service.stop)
        assert [(d / "enode").read_text().strip() for d in dirs] == enodes == [s.enode for s in services]
        wait_for(lambda: all(s.peer_count == 1 for s in services), 15, "the two nodes to connect")
        [block] = seal(nodes[0], clock)
        wait_for(lambda: nodes[1].chain.head.hash == block.hash, 10, "the block to cross")
        assert all(s.peer_count == 1 for s in services)   # of the two dials, one connection stayed


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_node_with_another_genesis_is_refused_and_never_counted(tmp_path):
    with ExitStack() as stack:
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        genesis, keys, clock = write_genesis(tmp_path / "one", 1)
        other_genesis, other_keys, _ = write_genesis(tmp_path / "two", 2)   # another validator set: another genesis
        ours, theirs = start_node(stack, genesis, keys[0], clock), start_node(stack, other_genesis, other_keys[0], clock)
        assert ours.chain.genesis_hash != theirs.chain.genesis_hash
        net_ours = start_service(stack, ours, listen=LOCAL)
        net_theirs = start_service(stack, theirs, listen=LOCAL, static_peers=[net_ours.enode])
        wait_for(lambda: net_theirs.dialer.dials >= 2, 10, "a refusal and a redial")
        assert net_ours.peer_count == net_theirs.peer_count == 0 and net_ours.peers_info() == []
