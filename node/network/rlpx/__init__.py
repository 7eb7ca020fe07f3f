"""RLPx, devp2p's encrypted transport: ECIES handshake, framing with keccak MACs, the `p2p` capability, connections.

Layers, bottom up (the first five are sans-IO: bytes in, bytes out):
  crypto.py     ecdh_x, recoverable signatures, Keccak, ECIES with geth's parameters
  handshake.py  Handshake: EIP-8 auth/ack (pre-EIP-8 read too) -> secrets.py Secrets
  frames.py     FrameCodec: encode(code, payload) / feed(bytes); snappy.py (16 MiB cap from the varint)
  p2p.py        Hello, Disconnect and its reasons, Ping/Pong, capability offsets
  nodekey.py    DATADIR/nodekey, enode URLs, DATADIR/enode
  establish.py  handshake + Hellos on a socket, with geth's timeouts and refusals; ConnectionConfig
  connection.py RlpxConnection: dial/accept, send/recv (protocol, relative code, payload), ping, disconnect
  server.py     RlpxServer: accept loop; a failing peer only loses its own socket
  rlpxpeer.py   RlpxPeer: node/network/peer.py's eth Peer over an RlpxConnection
Errors are in errors.py, all under RlpxError.
"""
