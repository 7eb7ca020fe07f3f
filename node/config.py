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
    p2p: bool = False                      # run the peer-to-peer network (off for in-process nodes and tests)
    p2p_addr: str = "127.0.0.1"            # RLPx listen address (--p2p.addr)
    p2p_port: int = 30311                  # RLPx listen port (--p2p.port); 0: any free port
    peers: tuple[str, ...] = ()            # static peers' enode URLs, dialled and redialled (--peers)
    max_peers: int = 50                    # geth's default --maxpeers
    peer_wait: float = 10.0                # s a validator with static peers waits for them before its first seal

    def __post_init__(self) -> None:
        self.genesis = Path(self.genesis)
        if self.datadir is not None:
            self.datadir = Path(self.datadir).expanduser()
        if self.block_time is not None and self.block_time < 0:
            raise ValueError("block time must not be negative")
        if self.evm_timeout <= 0:
            raise ValueError("--rpc.evmtimeout must be positive")
        self.peers = tuple(self.peers)
        if self.max_peers < 1:
            raise ValueError("--maxpeers must be at least 1")
        if not 0 <= self.p2p_port <= 65535:
            raise ValueError(f"--p2p.port: {self.p2p_port} is not a TCP port")
        if self.min_gas_price < 0:
            raise ValueError("minimum gas price must not be negative")
        if self.min_gas_price == 0 and not self.dev:
            raise ValueError("a minimum gas price of 0 is only allowed in dev mode")
