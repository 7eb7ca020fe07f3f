"""`python -m benchmarks.profiled OUT.prof run ...`: the `smartchain` command with every thread under cProfile.

The node runs exactly as `smartchain run ...` would; when it exits (SIGTERM stops it cleanly) the merged profile
of all its threads is written to OUT.prof and a component summary to OUT.txt.
"""
from __future__ import annotations

import atexit
import sys
from pathlib import Path

from benchmarks.profiling import ThreadProfiles, write


def main() -> int:
    if len(sys.argv) < 3:
        print("usage: python -m benchmarks.profiled OUT.prof COMMAND [ARGS...]", file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    profiles = ThreadProfiles()
    profiles.install()
    # after thread joins at exit: atexit handlers run once threading has joined the worker threads
    atexit.register(lambda: write(profiles.merged(), out.parent, out.stem))
    from node.cli.main import main as smartchain
    return smartchain(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
