"""genesis.json (geth/BSC format) -> ChainConfig: fork schedule, chain id, Parlia parameters, genesis header and state.

Validation happens here, before anything is written: a bad genesis is refused with a `GenesisError` whose message
names the offending field.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from eth_utils import is_hex, keccak, to_canonical_address

from consensus.errors import InvalidEpochValidators
from consensus.genesis import genesis_validators as parse_genesis_validators
from consensus.header import ValidatorInfo

EXTRA_VANITY = 32
EXTRA_SEAL = 65
ZERO_HASH32 = b"\x00" * 32
ZERO_ADDRESS = b"\x00" * 20
UINT256_MAX = 2**256 - 1
INITIAL_BASE_FEE = 10**9            # geth's params.InitialBaseFee
GENESIS_GAS_LIMIT = 4_712_388       # geth's params.GenesisGasLimit, for a genesis without gasLimit
GENESIS_DIFFICULTY = 0x20000        # geth's params.GenesisDifficulty, for an ethash genesis without difficulty

# geth's block-number forks in activation order, then the timestamp forks. Names as genesis.json spells them.
BLOCK_FORKS = (
    "homesteadBlock", "daoForkBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock",
    "constantinopleBlock", "petersburgBlock", "istanbulBlock", "muirGlacierBlock", "berlinBlock", "londonBlock",
    "arrowGlacierBlock", "grayGlacierBlock", "mergeNetsplitBlock",
)
TIME_FORKS = ("shanghaiTime", "cancunTime", "pragueTime", "osakaTime", "bpo1Time", "bpo2Time", "bpo3Time",
              "bpo4Time", "bpo5Time", "amsterdamTime", "verkleTime")
# BSC's own forks: accepted and recorded (so BSC genesis files load), their rules are those of the Prague-era devnet.
BSC_BLOCK_FORKS = ("ramanujanBlock", "nielsBlock", "mirrorSyncBlock", "brunoBlock", "eulerBlock", "gibbsBlock",
                   "nanoBlock", "moranBlock", "planckBlock", "lubanBlock", "platoBlock", "hertzBlock",
                   "hertzfixBlock")
BSC_TIME_FORKS = ("keplerTime", "feynmanTime", "feynmanFixTime", "haberTime", "haberFixTime", "bohrTime",
                  "tychoTime", "pascalTime", "lorentzTime", "maxwellTime", "fermiTime", "mendelTime")
KNOWN_FORKS = frozenset(BLOCK_FORKS + TIME_FORKS + BSC_BLOCK_FORKS + BSC_TIME_FORKS)
# Forks a Parlia devnet must have active at genesis: our VM is py-evm's Prague.
PARLIA_REQUIRED = BLOCK_FORKS[:1] + BLOCK_FORKS[2:12] + ("shanghaiTime", "cancunTime", "pragueTime")


class GenesisError(ValueError):
    """A genesis file that cannot be used; the message names the field."""


@dataclass(frozen=True)
class ParliaConfig:
    period: int = 3          # seconds between blocks (BSC's pre-Lorentz value)
    epoch: int = 200         # blocks per epoch


@dataclass(frozen=True)
class BlobParams:
    """One fork's entry of config.blobSchedule (EIP-7840): blobs per block and the blob fee's update fraction."""

    target: int
    max: int
    base_fee_update_fraction: int


@dataclass(frozen=True)
class GenesisAccount:
    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainConfig:
    """Everything the chain's rules depend on, read from one genesis file."""

    chain_id: int
    block_forks: Mapping[str, int]
    time_forks: Mapping[str, int]
    parlia: ParliaConfig | None
    terminal_total_difficulty: int | None
    # genesis header fields
    timestamp: int
    extra_data: bytes
    gas_limit: int
    difficulty: int
    mix_hash: bytes
    coinbase: bytes
    nonce: bytes
    base_fee_per_gas: int | None
    excess_blob_gas: int
    blob_gas_used: int
    alloc: Mapping[bytes, GenesisAccount]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    dao_fork_support: bool = False
    blob_schedule: Mapping[str, BlobParams] = field(default_factory=dict)
    deposit_contract: bytes | None = None
    gas_used: int = 0

    @property
    def is_parlia(self) -> bool:
        return self.parlia is not None

    @property
    def genesis_validators(self) -> tuple[bytes, ...]:
        """Initial validator addresses, sorted, from extraData in either layout (consensus/genesis.py)."""
        return tuple(sorted(v.address for v in self.genesis_validator_infos))

    @property
    def genesis_validator_infos(self) -> tuple[ValidatorInfo, ...]:
        """Initial validators with their BLS vote keys (all-zero for bare addresses): `vanity | N x address | seal`
        (BSC's own genesis) or the Luban layout `vanity | N | N x (address, vote key) | seal` (a devnet's)."""
        return parse_genesis_validators(self.extra_data)

    @property
    def has_vote_keys(self) -> bool:
        """Whether any genesis validator has a BLS vote key (then its validators vote from block 3)."""
        return any(any(v.vote_address) for v in self.genesis_validator_infos)

    def genesis_state(self) -> dict:
        """The alloc in py-evm's genesis_state shape."""
        return {
            address: {"balance": acct.balance, "nonce": acct.nonce, "code": acct.code, "storage": dict(acct.storage)}
            for address, acct in self.alloc.items()
        }

    def genesis_base_fee(self) -> int | None:
        """geth's rule: baseFeePerGas, else 1 gwei when London is active at genesis (a Parlia chain: 0)."""
        if self.base_fee_per_gas is not None:
            return self.base_fee_per_gas
        if self.is_parlia:
            return 0
        return INITIAL_BASE_FEE if self.fork_active_at_genesis("londonBlock") else None

    def fork_active_at_genesis(self, name: str) -> bool:
        value = self.block_forks.get(name, self.time_forks.get(name))
        if value is None:
            return False
        return value == 0 if name in self.block_forks else value <= self.timestamp


def load_genesis(path: str | Path) -> ChainConfig:
    """Read and validate a genesis file."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise GenesisError(f"genesis: cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenesisError(f"genesis: {path} is not valid JSON: {exc}") from None
    return parse_genesis(data)


def parse_genesis(data: Any) -> ChainConfig:
    if not isinstance(data, dict):
        raise GenesisError("genesis: top level must be a JSON object")
    config = data.get("config")
    if not isinstance(config, dict):
        raise GenesisError("genesis: config: missing or not an object")
    if "chainId" not in config:
        raise GenesisError("genesis: config.chainId: missing")
    chain_id = _quantity(config["chainId"], "config.chainId")
    if chain_id == 0:
        raise GenesisError("genesis: config.chainId: must be positive")

    block_forks: dict[str, int] = {}
    time_forks: dict[str, int] = {}
    for key, value in config.items():
        if key.endswith("Block") or key.endswith("Time"):
            if key not in KNOWN_FORKS:
                raise GenesisError(f"genesis: config.{key}: unknown fork name")
            if value is None:
                continue
            target = block_forks if key.endswith("Block") else time_forks
            target[key] = _quantity(value, f"config.{key}")

    parlia = None
    if "parlia" in config:
        parlia = _parse_parlia(config["parlia"])
    ttd = config.get("terminalTotalDifficulty")
    ttd = None if ttd is None else _quantity(ttd, "config.terminalTotalDifficulty")

    extra = _bytes(data.get("extraData", "0x"), "extraData")
    alloc_raw = data.get("alloc", {})
    if not isinstance(alloc_raw, dict):
        raise GenesisError("genesis: alloc: must be an object of address -> account")
    alloc = {_address(addr, f"alloc.{addr}"): _account(acct, f"alloc.{addr}") for addr, acct in alloc_raw.items()}

    base_fee = data.get("baseFeePerGas")
    if _quantity(data.get("number") or "0x0", "number") != 0:
        raise GenesisError("genesis: number: a genesis block is block 0")
    if _fixed(data.get("parentHash") or "0x" + "00" * 32, 32, "parentHash") != ZERO_HASH32:
        raise GenesisError("genesis: parentHash: a genesis block has no parent (zero hash)")
    mix_hash = _fixed(data.get("mixHash", "0x" + "00" * 32), 32, "mixHash")
    if data.get("difficulty") is not None:
        difficulty = _quantity(data["difficulty"], "difficulty")
    else:
        # geth's ToBlock: 0 unless the chain is ethash and the genesis has no mix hash
        difficulty = GENESIS_DIFFICULTY if "ethash" in config and mix_hash == ZERO_HASH32 else 0
    gas_limit = _quantity(data.get("gasLimit") or "0x0", "gasLimit") or GENESIS_GAS_LIMIT
    dao_support = config.get("daoForkSupport", False)
    if not isinstance(dao_support, bool):
        raise GenesisError("genesis: config.daoForkSupport: expected true or false")
    deposit = config.get("depositContractAddress")
    cfg = ChainConfig(
        chain_id=chain_id,
        block_forks=block_forks,
        time_forks=time_forks,
        parlia=parlia,
        terminal_total_difficulty=ttd,
        timestamp=_quantity(data.get("timestamp", "0x0"), "timestamp"),
        extra_data=extra,
        gas_limit=gas_limit,
        difficulty=difficulty,
        mix_hash=mix_hash,
        coinbase=_fixed(data.get("coinbase", "0x" + "00" * 20), 20, "coinbase"),
        nonce=_fixed(_pad_nonce(data.get("nonce", "0x0")), 8, "nonce"),
        base_fee_per_gas=None if base_fee is None else _quantity(base_fee, "baseFeePerGas"),
        excess_blob_gas=_quantity(data.get("excessBlobGas") or "0x0", "excessBlobGas"),
        blob_gas_used=_quantity(data.get("blobGasUsed") or "0x0", "blobGasUsed"),
        alloc=alloc,
        raw=data,
        dao_fork_support=dao_support,
        blob_schedule=_parse_blob_schedule(config.get("blobSchedule")),
        deposit_contract=None if deposit is None else _address(deposit, "config.depositContractAddress"),
        gas_used=_quantity(data.get("gasUsed") or "0x0", "gasUsed"),
    )
    if cfg.gas_limit < 5000:
        raise GenesisError(f"genesis: gasLimit: {cfg.gas_limit} is below the minimum 5000")
    if parlia is not None:
        _check_parlia_genesis(cfg)
    return cfg


def _check_parlia_genesis(cfg: ChainConfig) -> None:
    missing = [name for name in PARLIA_REQUIRED if not cfg.fork_active_at_genesis(name)]
    if missing:
        raise GenesisError(
            f"genesis: config.{missing[0]}: a Parlia devnet runs py-evm's Prague VM from block 0, "
            f"so every fork through Prague must be active at genesis (inactive: {', '.join(missing)})")
    extra = cfg.extra_data
    if len(extra) < EXTRA_VANITY + EXTRA_SEAL:
        raise GenesisError(
            f"genesis: extraData: {len(extra)} bytes, need at least {EXTRA_VANITY} vanity + {EXTRA_SEAL} seal")
    body = len(extra) - EXTRA_VANITY - EXTRA_SEAL
    if body == 0:
        raise GenesisError("genesis: extraData: no validator address between vanity and seal")
    try:
        parse_genesis_validators(extra)
    except InvalidEpochValidators:
        raise GenesisError(
            f"genesis: extraData: validators part is {body} bytes, neither N x 20-byte addresses nor a count byte "
            f"and N x 68-byte (address, BLS vote key) entries") from None
    if cfg.base_fee_per_gas not in (None, 0):
        raise GenesisError(f"genesis: baseFeePerGas: BSC keeps the base fee at 0, got {cfg.base_fee_per_gas}")


def _parse_parlia(raw: Any) -> ParliaConfig:
    if not isinstance(raw, dict):
        raise GenesisError("genesis: config.parlia: must be an object")
    period = _quantity(raw.get("period", ParliaConfig.period), "config.parlia.period")
    epoch = _quantity(raw.get("epoch", ParliaConfig.epoch), "config.parlia.epoch")
    if period < 0:
        raise GenesisError("genesis: config.parlia.period: must not be negative")
    if epoch < 1:
        raise GenesisError("genesis: config.parlia.epoch: must be at least 1")
    return ParliaConfig(period=period, epoch=epoch)


def _parse_blob_schedule(raw: Any) -> dict[str, BlobParams]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise GenesisError("genesis: config.blobSchedule: must be an object of fork name -> parameters")
    schedule = {}
    for fork, params in raw.items():
        where = f"config.blobSchedule.{fork}"
        if not isinstance(params, dict):
            raise GenesisError(f"genesis: {where}: must be an object")
        missing = [key for key in ("target", "max", "baseFeeUpdateFraction") if key not in params]
        if missing:
            raise GenesisError(f"genesis: {where}.{missing[0]}: missing")
        schedule[fork] = BlobParams(_quantity(params["target"], f"{where}.target"),
                                    _quantity(params["max"], f"{where}.max"),
                                    _quantity(params["baseFeeUpdateFraction"], f"{where}.baseFeeUpdateFraction"))
    return schedule


def _account(raw: Any, where: str) -> GenesisAccount:
    if not isinstance(raw, dict):
        raise GenesisError(f"genesis: {where}: must be an object")
    if "balance" not in raw:
        raise GenesisError(f"genesis: {where}.balance: missing")
    storage_raw = raw.get("storage", {})
    if not isinstance(storage_raw, dict):
        raise GenesisError(f"genesis: {where}.storage: must be an object")
    storage = {}
    for slot, value in storage_raw.items():
        storage[_quantity(slot, f"{where}.storage.{slot}")] = _quantity(value, f"{where}.storage.{slot}")
    return GenesisAccount(
        balance=_quantity(raw["balance"], f"{where}.balance"),
        nonce=_quantity(raw.get("nonce", 0), f"{where}.nonce"),
        code=_bytes(raw.get("code", "0x"), f"{where}.code"),
        storage={k: v for k, v in storage.items() if v},
    )


def _quantity(value: Any, where: str) -> int:
    """A geth genesis quantity: a non-negative JSON integer, a 0x-hex string or a decimal string."""
    if isinstance(value, bool):
        raise GenesisError(f"genesis: {where}: expected a number, got {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text.startswith(("0x", "0X")):
                if not is_hex(text) or len(text) == 2:
                    raise ValueError
                number = int(text, 16)
            else:
                number = int(text, 10)
        except ValueError:
            raise GenesisError(f"genesis: {where}: bad number {value!r}") from None
    else:
        raise GenesisError(f"genesis: {where}: expected a number, got {type(value).__name__}")
    if number < 0:
        raise GenesisError(f"genesis: {where}: negative value {number}")
    if number > UINT256_MAX:
        raise GenesisError(f"genesis: {where}: {number} does not fit in 256 bits")
    return number


def _bytes(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise GenesisError(f"genesis: {where}: expected 0x-prefixed hex, got {value!r}")
    digits = value[2:]
    if len(digits) % 2:
        raise GenesisError(f"genesis: {where}: bad hex (odd length)")
    try:
        return bytes.fromhex(digits)
    except ValueError:
        raise GenesisError(f"genesis: {where}: bad hex {value[:20]!r}") from None


def _fixed(value: Any, size: int, where: str) -> bytes:
    raw = _bytes(value, where)
    if len(raw) != size:
        raise GenesisError(f"genesis: {where}: expected {size} bytes, got {len(raw)}")
    return raw


def _pad_nonce(value: Any) -> Any:
    # geth writes the genesis nonce as a quantity ("0x0", "0x42"); the header field is 8 bytes
    if isinstance(value, str) and value.startswith("0x") and len(value) < 18:
        return "0x" + value[2:].rjust(16, "0")
    return value


def _address(value: str, where: str) -> bytes:
    text = value if value.startswith(("0x", "0X")) else "0x" + value
    raw = _bytes(text, where)
    if len(raw) != 20:
        raise GenesisError(f"genesis: {where}: an address is 20 bytes, got {len(raw)}")
    return to_canonical_address(raw)


def config_hash(cfg: ChainConfig) -> bytes:
    """A fingerprint of the genesis file, stored in the data dir to refuse a mismatching --genesis."""
    return keccak(json.dumps(cfg.raw, sort_keys=True).encode())
