"""`python -m node.cli`: the `smartchain` command without the early front process."""
import sys

from node.cli.main import main

sys.exit(main())
