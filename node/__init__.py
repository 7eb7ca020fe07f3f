"""smartchain node: the chain, its store, the transaction pool, block production and the CLI."""
