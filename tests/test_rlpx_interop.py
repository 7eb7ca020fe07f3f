"""Interop with a devp2p implementation nobody here wrote: @ethereumjs/devp2p (npm, pinned in tests/rlpx_interop).

Both ways (it dials us, we dial it): RLPx handshake, Hello with snappy, eth/68 Status with the fork id it checks,
a GetBlockHeaders/BlockHeaders round trip with request ids, and a Disconnect whose reason the other side reads.
Needs Node.js 20+; the pinned packages are installed with `npm ci` on first use.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest
import rlp

from node.network.rlpx.connection import ConnectionConfig, RlpxConnection
from node.network.rlpx.crypto import new_private_key
from node.network.rlpx.nodekey import enode_url
from node.network.rlpx.p2p import Capability, DisconnectReason
from node.network.rlpx.server import RlpxServer

JS_DIR = Path(__file__).resolve().parent / "rlpx_interop"
GENESIS = b"\xab" * 32
NETWORK_ID = 7714
# eth/68 Status: [version, network id, td, head, genesis, fork id]; every fork at block 0: CRC32(genesis), next 0.
STATUS = rlp.encode([68, NETWORK_ID, 1, GENESIS, GENESIS, [zlib.crc32(GENESIS).to_bytes(4, "big"), 0]])
CONFIG = ConnectionConfig([Capability("eth", 68, 17)])


@pytest.fixture(scope="module")
def node_bin() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js (20 or later) is not on PATH; the devp2p interop test needs it")
    if not (JS_DIR / "node_modules" / "@ethereumjs" / "devp2p").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"npm is not on PATH: cannot install {JS_DIR / 'package-lock.json'}")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix", str(JS_DIR)],
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, f"npm ci in {JS_DIR} failed:\n{done.stdout}\n{done.stderr}"
    return node


async def next_event(proc: asyncio.subprocess.Process, want: str, timeout: float = 10.0) -> dict:
    """The next JSON line of the JS peer, which must be the event `want`."""
    line = await asyncio.wait_for(proc.stdout.readline(), timeout)
    assert line, f"the JS peer exited (code {await proc.wait()}) before {want!r}"
    event = json.loads(line)
    assert event["event"] == want, f"wanted {want!r} from the JS peer, got {event}"
    return event


async def answer_peer(conn: RlpxConnection) -> None:
    """Our half: check its Status, send ours, answer GetBlockHeaders with an empty BlockHeaders."""
    status = await conn.recv()
    assert (status.protocol, status.code) == ("eth", 0x00)
    version, network_id, _td, _head, genesis, fork_id = rlp.decode(status.payload)[:6]
    assert int.from_bytes(version, "big") == 68 and int.from_bytes(network_id, "big") == NETWORK_ID
    assert genesis == GENESIS and fork_id[0] == zlib.crc32(GENESIS).to_bytes(4, "big")
    await conn.send("eth", 0x00, STATUS)
    request = await conn.recv()
    assert (request.protocol, request.code) == ("eth", 0x03)
    request_id, query = rlp.decode(request.payload)
    assert request_id == b"\x07" and query[:2] == [b"\x00", b"\x01"]
    await conn.send("eth", 0x04, rlp.encode([request_id, []]))


async def js_peer(node: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(node, "peer.mjs", *args, cwd=JS_DIR, stdout=asyncio.subprocess.PIPE,
                                                env={**os.environ, "DEBUG": ""})


def test_we_dial_ethereumjs_and_disconnect_it(node_bin: str) -> None:
    async def main() -> None:
        proc = await js_peer(node_bin, "listen")
        try:
            listening = await next_event(proc, "listening")
            conn = await RlpxConnection.dial(new_private_key(), bytes.fromhex(listening["id"]), "127.0.0.1",
                                             listening["port"], CONFIG)
            assert conn.remote_hello.client_id.startswith("ethereumjs-devp2p")
            assert conn.remote_hello.version == 5 and conn.capability("eth").offset == 0x10
            await answer_peer(conn)
            added = await next_event(proc, "added")
            assert added["p2pVersion"] == 5
            status = await next_event(proc, "status")
            assert status == {"event": "status", "networkId": NETWORK_ID, "genesis": GENESIS.hex(),
                              "forkHash": zlib.crc32(GENESIS).to_bytes(4, "big").hex()}
            assert await next_event(proc, "headers") == {"event": "headers", "requestId": "07", "count": 0}
            await conn.ping()
            await asyncio.wait_for(_until(lambda: conn.pongs >= 1), 10)  # it answers our (compressed) Ping
            await conn.disconnect(DisconnectReason.TOO_MANY_PEERS)
            removed = await next_event(proc, "removed")
            assert removed == {"event": "removed", "reason": DisconnectReason.TOO_MANY_PEERS, "byUs": False}
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
    asyncio.run(asyncio.wait_for(main(), 60))


def test_ethereumjs_dials_us_and_disconnects(node_bin: str) -> None:
    async def main() -> None:
        key = new_private_key()
        accepted: asyncio.Queue[RlpxConnection] = asyncio.Queue()
        server = RlpxServer(key, CONFIG, accepted.put_nowait)
        await server.start()
        proc = await js_peer(node_bin, "dial", enode_url(key, "127.0.0.1", server.port))
        try:
            conn = await asyncio.wait_for(accepted.get(), 10)
            assert conn.remote_hello.client_id.startswith("ethereumjs-devp2p")
            await answer_peer(conn)
            assert (await next_event(proc, "added"))["p2pVersion"] == 5
            await next_event(proc, "status")
            await next_event(proc, "headers")
            await asyncio.wait_for(conn.wait_closed(), 10)
            # It sends that Disconnect uncompressed (ethereumjs does, after the Hellos too); we still read it.
            assert conn.remote_disconnected and conn.disconnect_reason == DisconnectReason.TOO_MANY_PEERS
            assert conn.error is None
            assert not server.failures
        finally:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
            await server.close()
    asyncio.run(asyncio.wait_for(main(), 60))


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.01)
