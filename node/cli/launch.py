"""The `smartchain` command's entry point: starts the JSON-RPC front process (rpc/front.py) for `run` before the
node's heavy imports, so that both processes import py-evm at the same time, then hands over to node.cli.main.

Only the listening options (and --datadir, whose config.json may set them) are read here (the full command line is
parsed by node.cli.main, which also stops the front again if the command turns out not to need it).
"""
from __future__ import annotations

import argparse
import sys

from pathlib import Path

from node.cli.args import add_listen_args
from node.cli.datadirconfig import ConfigFileError, apply_config
from node.config import DEFAULT_DATADIR
from node.cli.ports import check_free
from rpc.frontproc import FrontProcess


def _is_run(argv: list[str]) -> bool:
    if any(arg in ("-h", "--help") for arg in argv):
        return False
    return not argv or argv[0] == "run" or argv[0].startswith("-") and not argv[0].startswith("--verbosity")


def early_front(argv: list[str]) -> FrontProcess | None:
    """The front process of `smartchain run`, spawned now; None for other commands or --no-rpc.front."""
    if not _is_run(argv):
        return None
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    add_listen_args(parser)
    parser.add_argument("--datadir", type=Path, default=DEFAULT_DATADIR)
    argv = argv[1:] if argv and argv[0] == "run" else argv
    try:
        args, _ = parser.parse_known_args(argv)
        apply_config(parser, args.datadir, strict=False)
        args, _ = parser.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit, ConfigFileError, ValueError):   # node.cli reports it
        return None
    check_free(args.http_addr, [(args.http_port, "--http.port")])
    return FrontProcess(args.http_addr, args.http_port).start() if args.rpc_front else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        front = early_front(argv)
    except OSError as exc:   # the port is taken
        print(f"smartchain: {exc}", file=sys.stderr)
        return 1
    try:
        from node.cli.main import main as cli_main
        return cli_main(argv, front)
    finally:
        if front is not None:
            front.stop()


if __name__ == "__main__":
    sys.exit(main())
