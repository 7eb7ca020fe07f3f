"""Devnet: N validator nodes in one process, each with its own data dir, store and key, exchanging blocks and
transactions as eth/68 messages through the network's own sync and gossip over in-memory peers (devnetwork.py).

Two ways to run it:
- simulated (default): a SimClock and no production threads; `step()` lets the validator whose slot comes first
  (Parlia's in-turn time or back-off, engine.next_block_ms) seal at that time, and returns once every connected
  node has imported (or refused) the block and every vote on it has reached the voter's peers, so every run is the
  same and the next sealer attests what was voted;
- real time (`realtime=True`, `smartchain devnet`): each node's producer thread seals when its own slot comes and
  the network propagates it as it would between processes.

Fast finality: by default every validator has its BLS vote key (derived from its validator key, in
DATADIR/vote.key and in genesis), votes on each head and attests a quorum; `votes=False` gives BSC's bare genesis
layout, in which nobody votes.

Test hooks: stop/start a validator, partition and heal, make one validator double-sign.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from eth.abc import BlockAPI, BlockHeaderAPI
from eth_hash.auto import keccak
from eth_keys import keys

from consensus import bls, system
from consensus.engine import header_ms
from consensus.genesis import genesis_extra
from consensus.system.genesis import GenesisValidator
from consensus.votes import vote_key_for
from node.clock import Clock, SimClock
from node.config import REPO_GENESIS, NodeConfig
from node.chain.datalock import DataDirLock
from node.dev.devnetwork import DevnetNetwork
from node.finality.keys import write_vote_key
from node.node import Node

log = logging.getLogger("smartchain.devnet")

VANITY = b"\0" * 32
SEAL = b"\0" * 65
VALIDATOR_BALANCE = 10_000 * 10**18


class DevnetError(Exception):
    pass


def validator_key(index: int) -> keys.PrivateKey:
    """Validator i's key: fixed, so every devnet has the same validators (never use these keys elsewhere)."""
    return keys.PrivateKey(keccak(b"smartchain devnet validator %d" % index))


def validator_vote_key(key: keys.PrivateKey) -> bytes:
    """A devnet validator's BLS vote secret key, derived from its validator key (consensus.votes.vote_key_for)."""
    return vote_key_for(key.to_bytes())


def devnet_genesis(validators: Sequence[bytes | tuple[bytes, bytes]], period: int = 1, epoch: int = 200,
                   base: Path = REPO_GENESIS, parlia: dict | None = None, staking: bool = True,
                   funded: Sequence[bytes] = ()) -> dict:
    """The repository's genesis with these validators in extraData, them and `funded` funded, devnet timing, and
    (with `staking`) BSC's system contracts with the validators staked, parameters from `parlia` (BSC's names).

    A validator given as (address, BLS vote address) can vote: extraData then has BSC's Luban layout with the
    vote keys (consensus/genesis.py) and StakeHub registers the keys, so every epoch block carries them on; bare
    addresses give BSC's plain layout, in which nobody votes."""
    pairs = [(v, b"") if isinstance(v, bytes) else tuple(v) for v in validators]
    addresses = sorted(address for address, _ in pairs)
    genesis = json.loads(base.read_text())
    genesis["config"]["parlia"] = {**genesis["config"].get("parlia", {}), "period": period, "epoch": epoch,
                                   **(parlia or {})}
    if any(vote for _, vote in pairs):
        extra = genesis_extra([(a, v or bytes(bls.PUBLIC_KEY_LEN)) for a, v in pairs])
    else:
        extra = VANITY + b"".join(addresses) + SEAL
    genesis["extraData"] = "0x" + extra.hex()
    for address in (*addresses, *funded):
        genesis["alloc"].setdefault("0x" + address.hex(), {"balance": hex(VALIDATOR_BALANCE)})
    if staking:
        params = system.SystemParams.from_genesis(genesis["config"]["parlia"])
        entries = [GenesisValidator(a, vote_address=v) for a, v in sorted(pairs)]
        genesis["alloc"].update(system.genesis_alloc_json(entries, params, int(genesis["timestamp"], 16)))
    return genesis


@dataclass
class Member:
    """One validator node of the devnet and what it refused of the others' blocks."""

    index: int
    node: Node
    running: bool = True
    rejected: list[tuple[int, str]] = field(default_factory=list)   # (block number, reason) of refused blocks

    @property
    def address(self) -> bytes:
        return self.node.producer.address

    @property
    def head(self) -> BlockHeaderAPI:
        return self.node.chain.head

    def next_slot_ms(self) -> int | None:
        """When this validator may seal the child of its head (None: not allowed to)."""
        return self.node.chain.engine.next_block_ms(self.head, self.address)


class Devnet:
    """`with Devnet(validators=21) as net: net.run(600)`; nodes are `net.nodes`, validators `net.validators`."""

    def __init__(self, validators: int = 1, clock: Clock | None = None, *, period: int = 1, epoch: int = 200,
                 realtime: bool = False, datadir: str | Path | None = None, parlia: dict | None = None,
                 block_time: float | None = None, standby: int = 0, staking: bool = True,
                 votes: bool = True) -> None:
        """`validators` nodes in the genesis set, plus `standby` funded nodes that may become validators through
        StakeHub; `parlia`: genesis config.parlia overrides (BSC's parameter names, e.g. felonyThreshold);
        `votes`: the validators have BLS vote keys (DATADIR/vote.key, in genesis) and vote: blocks finalize."""
        if validators < 1:
            raise DevnetError("a devnet needs at least one validator")
        self.keys = [validator_key(i) for i in range(validators + standby)]
        addresses = [k.public_key.to_canonical_address() for k in self.keys]
        self.validators = sorted(addresses[:validators])   # the genesis set, in address order
        self.votes = votes
        genesis_set = [(a, bls.public_key(validator_vote_key(k))) if votes else a
                       for a, k in zip(addresses[:validators], self.keys)]
        self.genesis = devnet_genesis(genesis_set, period, epoch, parlia=parlia, staking=staking,
                                      funded=addresses[validators:])
        self.realtime = realtime
        self.block_time = block_time
        self.clock = clock or (Clock() if realtime else SimClock(int(self.genesis["timestamp"], 16) * 1000))
        self._own_dir = datadir is None
        self.datadir = Path(tempfile.mkdtemp(prefix="smartchain-devnet-") if datadir is None else datadir)
        self.network: DevnetNetwork | None = None
        self.members: list[Member] = []
        self._lock: DataDirLock | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------------
    def start(self) -> Devnet:
        self.datadir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.datadir)   # before the genesis file is written: another devnet may run here
        genesis_file = self.datadir / "genesis.json"
        genesis_file.write_text(json.dumps(self.genesis, indent=2))
        try:
            self.network = DevnetNetwork(self._refused, track_txs=not self.realtime)
            for i, key in enumerate(self.keys):
                config = NodeConfig(genesis=genesis_file, datadir=self.datadir / f"node{i}", dev=True,
                                    validator_key=key.to_bytes(), produce=self.realtime, block_time=self.block_time)
                if self.votes:
                    config.datadir.mkdir(parents=True, exist_ok=True)
                    write_vote_key(config.datadir, validator_vote_key(key))
                node = Node(config, clock=self.clock, vote_journal_fsync=False).start()
                self.members.append(Member(i, node))
                self.network.add(node)
            self.network.settle()   # every node a peer of every other before the first block
        except BaseException:
            self.stop()
            raise
        log.info("devnet of %d validators in %s", len(self.keys), self.datadir)
        return self

    def stop(self) -> None:
        # every producer first, then the network (its imports finish), then the stores
        for member in self.members:
            member.node.producer.stop()
        if self.network is not None:
            self.network.stop()
            self.network = None
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

    def _refused(self, index: int, number: int, reason: str) -> None:
        self.members[index].rejected.append((number, reason))
        log.info("node %d refused block #%d: %s", index, number, reason)

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
        self.network.wait_meshed()
        self.network.settle_transactions()   # the sealer's pool holds what was sent anywhere it can hear of
        slots = [(ms, m.index) for m in self.members if m.running and (ms := m.next_slot_ms()) is not None]
        if not slots:
            raise DevnetError("the chain stalled: no running validator may seal the next block")
        ms, index = min(slots)
        ms = max(ms, self.clock.now_ms())
        self.clock.set(ms)
        return self._produce(self.members[index], ms)

    def _produce(self, member: Member, ms: int) -> BlockAPI:
        """Seal at `ms` and wait until every node connected to the sealer has the block (or refused it)."""
        block = member.node.producer.produce_block(ms)
        if not self.realtime:
            self.network.deliver(member.index, block)
            self.network.settle_votes(block)   # the next sealer attests what the validators voted for this one
        return block

    def run(self, blocks: int) -> list[BlockAPI]:
        return [self.step() for _ in range(blocks)]

    # -- test hooks --------------------------------------------------------------------------------------------------
    def stop_validator(self, index: int) -> None:
        """Take validator `index` offline: it neither seals nor hears anything until started again."""
        self.members[index].running = False
        self.members[index].node.producer.set_mode(False, None)
        self.network.stop_member(index)

    def start_validator(self, index: int) -> None:
        """Bring validator `index` back: it reconnects and syncs before this returns."""
        member = self.members[index]
        member.running = True
        self.network.start_member(index)
        if self.realtime:
            member.node.producer.set_mode(False, int((self.block_time or 0) * 1000))

    def partition(self, *groups: Iterable[int]) -> None:
        """Split the network: members reach only those in their own group (the unnamed rest form one more)."""
        self.network.partition(groups)

    def heal(self) -> None:
        """Join the network again; every node catches up with the heaviest chain it can now reach."""
        self.network.heal()

    def send_transaction(self, raw: bytes, via: int = 0) -> bytes:
        """Submit to node `via`; returns the transaction hash once its peers have it too (as gossip spreads it)."""
        tx_hash = self.members[via].node.send_raw_transaction(raw)
        if not self.realtime:
            self.network.settle_transactions()
        return tx_hash

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
        return self._produce(member, max(slot, self.clock.now_ms()))
