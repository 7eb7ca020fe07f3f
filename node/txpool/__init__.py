"""The transaction pool: admission rules in geth's order, its errors, pending and queued transactions."""
