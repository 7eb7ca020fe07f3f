"""Helpers for the network tests (no tests here): in-process nodes on one genesis and one simulated clock, sealing
on demand, joined by NetworkServices over in-memory peers or RLPx on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from node.clock import SimClock
from node.config import NodeConfig
from node.dev.devnet import devnet_genesis, validator_key
from node.network.loopthread import LoopThread
from node.network.service import NetworkService
from node.node import Node


def write_genesis(directory: Path, validators: int, staking: bool = False) -> tuple[Path, list[bytes], SimClock]:
    """A genesis with `validators` devnet validators (keys validator_key(i)), and a clock at its time; without
    `staking` the set stays the extraData's (no system contracts: blocks are cheaper to make and import)."""
    keys = [validator_key(i) for i in range(validators)]
    genesis = devnet_genesis([k.public_key.to_canonical_address() for k in keys], period=1, epoch=200,
                             staking=staking)
    path = directory / "genesis.json"
    path.write_text(json.dumps(genesis))
    return path, [k.to_bytes() for k in keys], SimClock(int(genesis["timestamp"], 16) * 1000)


def start_node(stack: ExitStack, genesis: Path, key: bytes, clock: SimClock) -> Node:
    """A node without a production loop (blocks only when a test seals one), stopped with `stack`."""
    node = Node(NodeConfig(genesis=genesis, dev=True, validator_key=key, produce=False), clock=clock).start()
    stack.callback(node.stop)
    return node


def start_service(stack: ExitStack, node: Node, loop: LoopThread | None = None, **options) -> NetworkService:
    service = NetworkService(node, loop=loop, **options).start()
    stack.callback(service.stop)
    return service


def shared_loop(stack: ExitStack) -> LoopThread:
    loop = LoopThread("test network").start()
    stack.callback(loop.stop)
    return loop


def seal(node: Node, clock: SimClock, blocks: int = 1) -> list:
    """Seal `blocks` blocks on `node` at its own slots, moving the shared clock there."""
    sealed = []
    for _ in range(blocks):
        slot = node.chain.engine.next_block_ms(node.chain.head, node.producer.address)
        assert slot is not None, "this validator may not seal the next block"
        clock.set(max(slot, clock.now_ms()))
        sealed.append(node.producer.produce_block(max(slot, clock.now_ms())))
    return sealed


def wait_for(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


# -- a scripted peer: the test speaks eth/68 to a service itself, over an in-memory pair ------------------------------
def scripted_peer(service: NetworkService, chain, td: int | None = None, name: str = "tester"):
    """Connect a peer the test drives to `service` and complete the handshake with `chain`'s Status (its total
    difficulty replaced by `td`); returns our end (a MemoryPeer on the service's loop)."""
    import dataclasses

    from node.network.eth.handshake import handshake, local_fork_filter, local_status, local_upgrade_status
    from node.network.memory import memory_pair

    async def connect():
        ours, theirs = memory_pair(service.types, service.types, ids=(name, service.id))
        service.accept(theirs)
        status = local_status(chain)
        if td is not None:
            status = dataclasses.replace(status, total_difficulty=td)
        await handshake(ours, status, local_fork_filter(chain), local_upgrade_status(chain))
        return ours
    return service.loop.run(connect())


def refused_peer(service: NetworkService, name: str):
    """Connect a scripted peer called `name` and read until the service disconnects it; returns our closed end."""
    from node.network.memory import memory_pair
    from node.network.peer import PeerDisconnected

    async def connect():
        ours, theirs = memory_pair(service.types, service.types, ids=(name, service.id))
        service.accept(theirs)
        try:
            while True:
                await ours.receive()   # the service's Status, then its Disconnect
        except PeerDisconnected:
            return ours
    return service.loop.run(connect(), timeout=10)


def respond(service: NetworkService, peer, answer: Callable) -> None:
    """Run `await answer(message)` for every message the scripted `peer` receives (a task on the service's loop)."""
    from node.network.peer import PeerDisconnected

    async def loop():
        try:
            while True:
                await answer(await peer.receive())
        except PeerDisconnected:
            pass

    async def start():
        asyncio.get_running_loop().create_task(loop())
    service.loop.run(start())


def serve_from(service: NetworkService, peer, chain, pool=None) -> None:
    """Let the scripted `peer` answer every request from `chain` and `pool`, as an honest peer would."""
    from node.network.eth import serve
    from node.network.eth.messages import Request

    async def answer(message):
        if isinstance(message, Request):
            await peer.send(serve.answer(message, chain, pool.get if pool is not None else lambda h: None))
    respond(service, peer, answer)
