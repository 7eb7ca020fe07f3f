"""The peer-to-peer network: RLPx transport, eth/68 and BSC's additions, sync and gossip."""
