"""The `smartchain` command: its entry point and subcommands."""
