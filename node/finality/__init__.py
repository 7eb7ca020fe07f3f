"""Fast finality on the node: vote keys in the data dir, the persisted vote journal, the voter, the vote pool and the
service that joins them to the chain, the producer (attestations) and the network (vote gossip)."""
