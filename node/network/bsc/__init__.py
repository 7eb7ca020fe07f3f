"""BSC's `bsc` satellite protocol (bsc/1): BscCap and Votes messages, their gossip, and the RLPx peer that carries them
beside eth/68 (../shared/reference/devp2p.md section 11)."""
