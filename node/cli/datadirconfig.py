"""DATADIR/config.json: the data dir's defaults for `smartchain run`'s flags (what BSC's `geth init-network` puts in
each node's config.toml), so that `smartchain run --datadir DIR` starts that node with nothing else on the command
line. A flag given on the command line wins.

Keys are the flags' names without the dashes ("http.port", "p2p.port", "peers", "maxpeers", ...); `peers` is a list
of enode URLs. Only the standard library here: node/cli/launch.py reads it before the heavy imports.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.json"


class ConfigFileError(ValueError):
    """The data dir's config file cannot be used; the message names the file and the key."""


def flag_dest(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each long flag's name without dashes -> its argparse dest ("http.port" -> "http_port")."""
    names: dict[str, str] = {}
    for action in parser._actions:   # argparse has no public listing of its actions
        for option in action.option_strings:
            if option.startswith("--") and not option.startswith("--no-"):
                names[option[2:]] = action.dest
    return names


def read_config(datadir: Path) -> dict[str, Any]:
    """The data dir's config file as a dict ({} when there is none)."""
    path = Path(datadir).expanduser() / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigFileError(f"{path}: want a JSON object of flag names and values")
    return values


def apply_config(parser: argparse.ArgumentParser, datadir: Path, *, strict: bool = True) -> None:
    """Make the config file's values `parser`'s defaults. `strict`: an unknown key is an error (a parser that knows
    only some of the flags, as node/cli/launch.py's, passes False)."""
    values = read_config(datadir)
    names = flag_dest(parser)
    defaults: dict[str, Any] = {}
    for key, value in values.items():
        if key not in names:
            if strict:
                raise ConfigFileError(f"{Path(datadir) / CONFIG_FILE}: unknown flag {key!r}")
            continue
        if isinstance(value, list):   # list-valued flags (peers, http.api) are comma-separated on the command line
            value = ",".join(str(v) for v in value)
        action = next(a for a in parser._actions if a.dest == names[key])
        if isinstance(value, str) and action.type is not None:
            value = action.type(value)   # as if it had been typed: "8545" and 8545 both work
        defaults[names[key]] = value
    parser.set_defaults(**defaults)


def write_config(datadir: Path, values: dict[str, Any]) -> Path:
    """Write the data dir's config file (keys as in the module docstring)."""
    path = Path(datadir) / CONFIG_FILE
    path.write_text(json.dumps(values, indent=2) + "\n")
    return path
