"""Devnet: N validator nodes in one process, each with its own data dir, store and key, exchanging blocks and
transactions through an in-memory Transport (the interface a network layer will implement).

Two ways to run it:
- simulated (default): a SimClock and no production threads; `step()` lets the validator whose slot comes first
  (Parlia's in-turn time or back-off, engine.next_block_ms) seal and broadcast, then moves time there. Thousands of
  slots run in seconds, and every run is the same;
- real time (`realtime=True`, `smartchain devnet`): each node's producer thread seals when its own slot comes and
  the transport delivers at once.

Test hooks: stop/start a validator, partition and heal, make one validator double-sign.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from eth.abc import BlockAPI, BlockHeaderAPI
from eth_hash.auto import keccak
from eth_keys import keys

from consensus import system
from consensus.engine import header_ms
from node.chain.chain import ChainError, UnknownAncestor
from node.clock import Clock, SimClock
from node.config import REPO_GENESIS, NodeConfig
from node.chain.datalock import DataDirLock
from node.node import Node

log = logging.getLogger("smartchain.devnet")

VANITY = b"\0" * 32
SEAL = b"\0" * 65
VALIDATOR_BALANCE = 10_000 * 10**18
MAX_FETCH = 100_000   # ancestors one sync may fetch from a peer


class DevnetError(Exception):
    pass


def validator_key(index: int) -> keys.PrivateKey:
    """Validator i's key: fixed, so every devnet has the same validators (never use these keys elsewhere)."""
    return keys.PrivateKey(keccak(b"smartchain devnet validator %d" % index))


def devnet_genesis(validators: Sequence[bytes], period: int = 1, epoch: int = 200, base: Path = REPO_GENESIS,
                   parlia: dict | None = None, staking: bool = True, funded: Sequence[bytes] = ()) -> dict:
    """The repository's genesis with these validators in extraData, them and `funded` funded, devnet timing, and
    (with `staking`) BSC's system contracts with the validators staked, parameters from `parlia` (BSC's names)."""
    genesis = json.loads(base.read_text())
    genesis["config"]["parlia"] = {**genesis["config"].get("parlia", {}), "period": period, "epoch": epoch,
                                   **(parlia or {})}
    genesis["extraData"] = "0x" + (VANITY + b"".join(sorted(validators)) + SEAL).hex()
    for address in (*validators, *funded):
        genesis["alloc"].setdefault("0x" + address.hex(), {"balance": hex(VALIDATOR_BALANCE)})
    if staking:
        params = system.SystemParams.from_genesis(genesis["config"]["parlia"])
        genesis["alloc"].update(system.genesis_alloc_json(sorted(validators), params, int(genesis["timestamp"], 16)))
    return genesis


class Transport:
    """In-memory delivery between members; who can reach whom follows the running flags and the partition."""

    def __init__(self) -> None:
        self.members: list[Member] = []
        self._lock: DataDirLock | None = None
        self._groups: list[set[int]] | None = None

    def connected(self, a: int, b: int) -> bool:
        if a == b or not (self.members[a].running and self.members[b].running):
            return False
        return self._groups is None or any(a in g and b in g for g in self._groups)

    def peers(self, origin: int) -> list[Member]:
        return [m for m in self.members if self.connected(origin, m.index)]

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        groups = [set(g) for g in groups]
        covered = set().union(*groups)
        rest = set(range(len(self.members))) - covered
        self._groups = groups + ([rest] if rest else [])

    def heal(self) -> None:
        self._groups = None

    def broadcast_block(self, origin: int, block: BlockAPI) -> None:
        for peer in self.peers(origin):
            peer.receive_block(block, self.members[origin])

    def broadcast_transaction(self, origin: int, raw: bytes) -> None:
        for peer in self.peers(origin):
            peer.receive_transaction(raw)


@dataclass
class Member:
    """One validator node of the devnet and what it knows of the others."""

    index: int
    node: Node
    transport: Transport
    running: bool = True
    rejected: list[tuple[int, str]] = field(default_factory=list)   # (block number, reason) of refused blocks
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def address(self) -> bytes:
        return self.node.producer.address

    @property
    def head(self) -> BlockHeaderAPI:
        return self.node.chain.head

    def receive_block(self, block: BlockAPI, sender: Member) -> None:
        """Import a peer's block; with an unknown parent, first fetch the missing ancestors from that peer."""
        with self._lock:
            try:
                self.node.import_block(block)
            except UnknownAncestor:
                self._sync_from(sender, block)
            except ChainError as exc:
                self.rejected.append((block.number, str(exc)))
                log.info("node %d refused block #%d: %s", self.index, block.number, exc)

    def _sync_from(self, peer: Member, tip: BlockAPI) -> None:
        missing = [tip]
        while self.node.chain.header_by_hash(missing[-1].header.parent_hash) is None:
            parent = peer.node.chain.block_by_hash(missing[-1].header.parent_hash)
            if parent is None or len(missing) > MAX_FETCH:
                self.rejected.append((tip.number, "ancestors not available from the peer"))
                return
            missing.append(parent)
        for block in reversed(missing):
            try:
                self.node.import_block(block)
            except ChainError as exc:
                self.rejected.append((block.number, str(exc)))
                return

    def sync(self) -> None:
        """Catch up with every reachable peer's head (after a restart or a heal)."""
        for peer in self.transport.peers(self.index):
            head = peer.node.chain.block_by_header(peer.head)
            if self.node.chain.header_by_hash(head.hash) is None:
                self.receive_block(head, peer)

    def receive_transaction(self, raw: bytes) -> None:
        try:
            self.node.send_raw_transaction(raw)
        except Exception as exc:   # already known, or invalid here: as a peer would, drop it quietly
            log.debug("node %d dropped a gossiped transaction: %s", self.index, exc)

    def next_slot_ms(self) -> int | None:
        """When this validator may seal the child of its head (None: not allowed to)."""
        return self.node.chain.engine.next_block_ms(self.head, self.address)


class Devnet:
    """`with Devnet(validators=21) as net: net.run(600)`; nodes are `net.nodes`, validators `net.validators`."""

    def __init__(self, validators: int = 1, clock: Clock | None = None, *, period: int = 1, epoch: int = 200,
                 realtime: bool = False, datadir: str | Path | None = None, parlia: dict | None = None,
                 block_time: float | None = None, standby: int = 0, staking: bool = True) -> None:
        """`validators` nodes in the genesis set, plus `standby` funded nodes that may become validators through
        StakeHub; `parlia`: genesis config.parlia overrides (BSC's parameter names, e.g. felonyThreshold)."""
        if validators < 1:
            raise DevnetError("a devnet needs at least one validator")
        self.keys = [validator_key(i) for i in range(validators + standby)]
        addresses = [k.public_key.to_canonical_address() for k in self.keys]
        self.validators = sorted(addresses[:validators])   # the genesis set, in address order
        self.genesis = devnet_genesis(self.validators, period, epoch, parlia=parlia, staking=staking,
                                      funded=addresses[validators:])
        self.realtime = realtime
        self.block_time = block_time
        self.clock = clock or (Clock() if realtime else SimClock(int(self.genesis["timestamp"], 16) * 1000))
        self._own_dir = datadir is None
        self.datadir = Path(tempfile.mkdtemp(prefix="smartchain-devnet-") if datadir is None else datadir)
        self.transport = Transport()
        self.members: list[Member] = []

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> Devnet:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.datadir)   # before the genesis file is written: another devnet may run here
        genesis_file = self.datadir / "genesis.json"
        genesis_file.write_text(json.dumps(self.genesis, indent=2))
        try:
            for i, key in enumerate(self.keys):
                config = NodeConfig(genesis=genesis_file, datadir=self.datadir / f"node{i}", dev=True,
                                    validator_key=key.to_bytes(), produce=self.realtime, block_time=self.block_time)
                node = Node(config, clock=self.clock).start()
                member = Member(i, node, self.transport)
                node.subscribe(on_block=self._broadcaster(member), on_pending=self._gossip(member))
                self.members.append(member)
                self.transport.members.append(member)
        except BaseException:
            self.stop()
            raise
        log.info("devnet of %d validators in %s", len(self.keys), self.datadir)
        return self

    def stop(self) -> None:
        # every producer first: a producer still sealing hands its block to the other nodes, whose stores must
        # still be open
        for member in self.members:
            member.node.producer.stop()
        for member in self.members:
            member.node.stop()
        self.members.clear()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._own_dir:
            shutil.rmtree(self.datadir, ignore_errors=True)

    def __enter__(self) -> Devnet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _broadcaster(self, member: Member):
        def broadcast(block: BlockAPI, receipts: tuple) -> None:
            if block.header.coinbase == member.address and member.running:   # own blocks only, as sealed
                self.transport.broadcast_block(member.index, block)
        return broadcast

    def _gossip(self, member: Member):
        def gossip(tx) -> None:   # each transaction that became pending here goes to the peers, as bytes
            if member.running:
                self.transport.broadcast_transaction(member.index, tx.encode())
        return gossip

    # -- views -------------------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> list[Node]:
        return [m.node for m in self.members]

    def heads(self) -> set[bytes]:
        """The distinct head hashes of the running nodes (one when they agree)."""
        return {m.head.hash for m in self.members if m.running}

    # -- simulated time ----------------------------------------------------------------------------------------------
    def step(self) -> BlockAPI:
        """The next block of the network: the running validator whose slot comes first seals it at that time."""
        if self.realtime:
            raise DevnetError("step() drives a simulated devnet; a real-time one produces on its own")
        slots = [(ms, m.index) for m in self.members if m.running and (ms := m.next_slot_ms()) is not None]
        if not slots:
            raise DevnetError("the chain stalled: no running validator may seal the next block")
        ms, index = min(slots)
        ms = max(ms, self.clock.now_ms())
        self.clock.set(ms)
        return self.members[index].node.producer.produce_block(ms)   # the broadcaster delivers it

    def run(self, blocks: int) -> list[BlockAPI]:
        return [self.step() for _ in range(blocks)]

    # -- test hooks --------------------------------------------------------------------------------------------------
    def stop_validator(self, index: int) -> None:
        """Take validator `index` offline: it neither seals nor hears anything until started again."""
        self.members[index].running = False
        self.members[index].node.producer.set_mode(False, None)

    def start_validator(self, index: int) -> None:
        member = self.members[index]
        member.running = True
        member.sync()
        if self.realtime:
            member.node.producer.set_mode(False, int((self.block_time or 0) * 1000))

    def partition(self, *groups: Iterable[int]) -> None:
        """Split the network: members reach only those in their own group (the unnamed rest form one more)."""
        self.transport.partition(groups)

    def heal(self) -> None:
        """Join the network again; every node catches up with the heaviest chain it can now reach."""
        self.transport.heal()
        for member in self.members:
            if member.running:
                member.sync()

    def send_transaction(self, raw: bytes, via: int = 0) -> bytes:
        """Submit to node `via` (its pool gossips it to its peers); returns the transaction hash."""
        return self.members[via].node.send_raw_transaction(raw)

    def double_sign(self, index: int) -> tuple[BlockHeaderAPI, BlockHeaderAPI]:
        """Make validator `index` seal the next block twice (two different headers at one height): the first is
        produced and broadcast as usual, the second only signed. Returns both headers, the evidence BSC's
        SlashIndicator takes."""
        member = self.members[index]
        node = member.node
        parent = member.head
        first = self._seal_now(member)
        fields = node.chain.engine.prepare(parent, member.address, header_ms(first.header) + 1)
        built = node.chain.build_block(parent, fields, ())
        second = node.chain.engine.seal(built.block.header, node.producer.key)
        if second.hash == first.hash:
            raise DevnetError("the second header came out the same")
        return first.header, second

    def _seal_now(self, member: Member) -> BlockAPI:
        slot = member.next_slot_ms()
        if slot is None:
            raise DevnetError(f"validator {member.index} may not seal the next block")
        if not self.realtime:
            self.clock.set(max(slot, self.clock.now_ms()))
        return member.node.producer.produce_block(max(slot, self.clock.now_ms()))
