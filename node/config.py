"""NodeConfig: every setting in one dataclass; the CLI, tests and Devnet build it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_GENESIS = Path(__file__).resolve().parents[1] / "genesis.json"
DEFAULT_DATADIR = Path.home() / ".smartchain"
GWEI = 10**9


@dataclass
class NodeConfig:
    genesis: Path = REPO_GENESIS
    datadir: Path | None = None            # None: a fresh temporary directory, removed on stop
    dev: bool = True                       # unlocked test accounts, dev-only RPC methods, min gas price may be 0
    block_time: float | None = None        # None: the genesis period; 0: seal as soon as transactions are pending
    validator_key: bytes | None = None     # None: <datadir>/validator.key, else (dev) the mnemonic's first account
    min_gas_price: int = GWEI
    produce: bool = True                   # False: no production loop; blocks only when mine() is called
    http_addr: str = "127.0.0.1"
    http_port: int = 8545
    http_cors: list[str] | None = None     # allowed browser origins; None: any in dev mode, none otherwise
    http_api: tuple[str, ...] = ()         # optional RPC modules served outside dev mode (geth's --http.api)
    evm_timeout: float = 5.0               # s; every RPC method that executes code stops here (geth's --rpc.evmtimeout)

    def __post_init__(self) -> None:
        self.genesis = Path(self.genesis)
        if self.datadir is not None:
            self.datadir = Path(self.datadir).expanduser()
        if self.block_time is not None and self.block_time < 0:
            raise ValueError("block time must not be negative")
        if self.evm_timeout <= 0:
            raise ValueError("--rpc.evmtimeout must be positive")
        if self.min_gas_price < 0:
            raise ValueError("minimum gas price must not be negative")
        if self.min_gas_price == 0 and not self.dev:
            raise ValueError("a minimum gas price of 0 is only allowed in dev mode")
