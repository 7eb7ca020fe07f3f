"""RLPx, devp2p's encrypted transport: ECIES handshake, framing with keccak MACs, the `p2p` capability, connections."""
