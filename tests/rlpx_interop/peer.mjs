// An @ethereumjs/devp2p peer for tests/test_rlpx_interop.py. `node peer.mjs listen` or `node peer.mjs dial ENODE`.
// It speaks eth/68 on network 7714 with genesis 0xabab..ab (every fork at block 0), sends Status, asks
// GetBlockHeaders (request id 7) once the Statuses are exchanged, and reports each step as one JSON line on stdout.
// Listening, it waits for the other side's Disconnect; dialling, it disconnects with TOO_MANY_PEERS (4) once the
// BlockHeaders answer has come.
import { ETH, RLPx } from '@ethereumjs/devp2p'
import { createCustomCommon, Mainnet } from '@ethereumjs/common'
import { randomBytes } from 'crypto'

const [mode, enode] = process.argv.slice(2)
const report = (o) => console.log(JSON.stringify(o))
const hex = (b) => Buffer.from(b).toString('hex')
const GENESIS = new Uint8Array(32).fill(0xab)
const forks = ['chainstart', 'homestead', 'tangerineWhistle', 'spuriousDragon', 'byzantium', 'constantinople',
  'petersburg', 'istanbul', 'berlin', 'london']
const common = createCustomCommon({ chainId: 7714, hardforks: forks.map((name) => ({ name, block: 0 })) },
  Mainnet, { hardfork: 'london' })
common.setForkHashes(GENESIS)
const rlpx = new RLPx(randomBytes(32), { common, capabilities: [ETH.eth68], listenPort: 0 })

rlpx.events.on('peer:added', (peer) => {
  report({ event: 'added', p2pVersion: peer.getHelloMessage()?.protocolVersion, client: peer.getHelloMessage()?.clientId })
  const eth = peer.getProtocols()[0]
  eth.events.on('status', (s) => {
    report({ event: 'status', networkId: Buffer.from(s.chainId).readUIntBE(0, s.chainId.length),
      genesis: hex(s.genesisHash), forkHash: hex(s.forkId[0]) })
    eth.sendMessage(3, [Uint8Array.of(7), [Uint8Array.of(0), Uint8Array.of(1), new Uint8Array(), new Uint8Array()]])
  })
  eth.events.on('message', (code, payload) => {
    if (code !== 4) return
    report({ event: 'headers', requestId: hex(payload[0]), count: payload[1].length })
    if (mode === 'dial') peer.disconnect(0x04)
  })
  eth.sendStatus({ td: Uint8Array.of(1), bestHash: GENESIS, genesisHash: GENESIS })
})
rlpx.events.on('peer:removed', (peer, reason, we) => {
  report({ event: 'removed', reason, byUs: we })
  setTimeout(() => process.exit(0), 100)
})
rlpx.events.on('peer:error', (peer, err) => report({ event: 'error', error: String(err) }))
rlpx.events.on('error', (err) => report({ event: 'error', error: String(err) }))

if (mode === 'listen') {
  rlpx.events.on('listening', () => report({ event: 'listening', id: hex(rlpx.id), port: rlpx._server.address().port }))
  rlpx.listen(0, '127.0.0.1')
} else {
  const m = /^enode:\/\/([0-9a-f]{128})@([^:]+):(\d+)$/.exec(enode)
  rlpx.connect({ id: Buffer.from(m[1], 'hex'), address: m[2], tcpPort: Number(m[3]) })
    .catch((e) => report({ event: 'error', error: String(e) }))
}
setTimeout(() => { report({ event: 'timeout' }); process.exit(1) }, 20000)
