"""eth/68 with BSC's additions: typed messages and their RLP codec, serving requests from a chain, the handshake."""
