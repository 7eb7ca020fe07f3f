"""The chain and everything under it: LMDB store and indexes, genesis, fork schedule and VMs, state and trie speed-ups, block files."""
