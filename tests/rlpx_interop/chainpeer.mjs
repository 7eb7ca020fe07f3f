// An @ethereumjs/devp2p peer that checks a smartchain node's chain, for tests/test_rlpx_interop.py.
// `node chainpeer.mjs listen` or `node chainpeer.mjs dial ENODE`; the chain it expects comes as JSON in $INTEROP:
// {networkId, genesis (hex), key (hex private key of a funded account), to (hex address), value, nonce, tip, feeCap}.
// After RLPx, Hello and the eth/68 Status (its fork id checked by ethereumjs against a Common whose forks are all at
// genesis), it walks the node's chain back from the head the Status names (GetBlockHeaders by hash, reverse) down
// to the genesis, checking every hash link with @ethereumjs/block's own header encoding; asks for every body and
// checks transactions root, uncle hash, withdrawals root and each signature; then sends a legacy and an EIP-1559
// transaction (signed here by @ethereumjs/tx) in one Transactions message and checks each NewBlock the node sends. Each step is one JSON line on stdout; a failed check prints {"event":"failed"} and exits 1.
// Dialling, it disconnects (client quitting, 0x08) once both its transactions are in blocks; listening, it waits for the
// node to disconnect it.
import { ETH, RLPx } from '@ethereumjs/devp2p'
import { createCustomCommon, Mainnet } from '@ethereumjs/common'
import { createBlockFromBytesArray, createBlockHeaderFromBytesArray } from '@ethereumjs/block'
import { createFeeMarket1559Tx, createLegacyTx } from '@ethereumjs/tx'
import { RLP } from '@ethereumjs/rlp'
import { bytesToHex, equalsBytes, hexToBytes, intToBytes } from '@ethereumjs/util'
import { randomBytes } from 'crypto'

const [mode, enode] = process.argv.slice(2)
const cfg = JSON.parse(process.env.INTEROP)
const report = (o) => console.log(JSON.stringify(o))
const hex = (b) => bytesToHex(b).slice(2)
const int = (b) => (b.length === 0 ? 0 : Number(BigInt(bytesToHex(b))))
const fail = (step, error) => { report({ event: 'failed', step, error: String(error) }); process.exit(1) }
const check = (ok, step, what) => { if (!ok) fail(step, what) }

const GENESIS = hexToBytes(`0x${cfg.genesis}`)
const forks = ['chainstart', 'homestead', 'tangerineWhistle', 'spuriousDragon', 'byzantium', 'constantinople',
  'petersburg', 'istanbul', 'muirGlacier', 'berlin', 'london', 'arrowGlacier', 'grayGlacier', 'shanghai', 'cancun',
  'prague']
const common = createCustomCommon({ chainId: cfg.networkId, hardforks: forks.map((name) => ({ name, block: 0 })) },
  Mainnet, { hardfork: 'prague' })
common.setForkHashes(GENESIS)
// Parlia is no consensus ethereumjs knows (difficulty 2, a 97-byte extraData with the seal): its consensus-format
// checks are skipped; every field, hash, root and signature is still ethereumjs's own
const opts = { common, skipConsensusFormatValidation: true }
const HEADERS_ID = 1
const BODIES_ID = 2
const MAX_HEADERS = 1024

const rlpx = new RLPx(randomBytes(32), { common, capabilities: [ETH.eth68], listenPort: 0 })
let headers = []      // ascending, genesis first
let unmined = null  // hex hashes of our transactions not yet seen in a block

rlpx.events.on('peer:added', (peer) => {
  report({ event: 'added', p2pVersion: peer.getHelloMessage()?.protocolVersion, client: peer.getHelloMessage()?.clientId })
  const eth = peer.getProtocols()[0]
  let best = null
  eth.events.on('status', (s) => {
    best = s.bestHash
    report({ event: 'status', networkId: int(s.chainId), td: int(s.td), best: hex(s.bestHash),
      genesis: hex(s.genesisHash), forkHash: hex(s.forkId[0]), forkNext: int(s.forkId[1]) })
    // GetBlockHeaders [request id, [origin, amount, skip, reverse]]: back from the head to the genesis
    eth.sendMessage(3, [intToBytes(HEADERS_ID), [best, intToBytes(MAX_HEADERS), new Uint8Array(), intToBytes(1)]])
  })
  eth.events.on('message', async (code, payload) => {
    try {
      if (code === 4 && int(payload[0]) === HEADERS_ID) onHeaders(eth, best, payload[1])
      else if (code === 6 && int(payload[0]) === BODIES_ID) await onBodies(eth, payload[1])
      else if (code === 7) await onNewBlock(peer, payload)
      else if (code === 1) onBlockHashes(peer, payload)
    } catch (e) {
      fail(`message ${code}`, e.stack ?? e)
    }
  })
  eth.sendStatus({ td: new Uint8Array(), bestHash: GENESIS, genesisHash: GENESIS })
})

function onHeaders(eth, best, raws) {
  check(raws.length > 0, 'headers', 'no headers')
  const newestFirst = raws.map((raw) => {
    const header = createBlockHeaderFromBytesArray(raw, opts)
    check(equalsBytes(header.serialize(), RLP.encode(raw)), 'headers', `#${header.number} re-encodes differently`)
    return header
  })
  check(equalsBytes(newestFirst[0].hash(), best), 'headers', 'the first header is not the Status head')
  for (let i = 0; i + 1 < newestFirst.length; i++) {
    const [child, parent] = [newestFirst[i], newestFirst[i + 1]]
    check(equalsBytes(child.parentHash, parent.hash()) && child.number === parent.number + 1n, 'headers',
      `#${child.number} does not link to #${parent.number}`)
  }
  const oldest = newestFirst[newestFirst.length - 1]
  check(oldest.number === 0n && equalsBytes(oldest.hash(), GENESIS), 'headers', 'the walk does not end at genesis')
  headers = newestFirst.reverse()
  report({ event: 'headers', count: headers.length, head: { number: Number(headers.at(-1).number),
    hash: hex(headers.at(-1).hash()) } })
  eth.sendMessage(5, [intToBytes(BODIES_ID), headers.slice(1).map((h) => h.hash())])
}

async function checkedBlock(values, step) {
  const block = createBlockFromBytesArray(values, opts)
  check(await block.transactionsTrieIsValid(), step, `#${block.header.number}: transactions root`)
  check(block.uncleHashIsValid(), step, `#${block.header.number}: uncle hash`)
  check(await block.withdrawalsTrieIsValid(), step, `#${block.header.number}: withdrawals root`)
  for (const tx of block.transactions) check(tx.verifySignature(), step, `#${block.header.number}: a signature`)
  return block
}

async function onBodies(eth, bodies) {
  const wanted = headers.slice(1)
  check(bodies.length === wanted.length, 'bodies', `${bodies.length} bodies for ${wanted.length} hashes`)
  const txHashes = []
  for (let i = 0; i < bodies.length; i++) {
    const block = await checkedBlock([wanted[i].raw(), ...bodies[i].slice(0, 3)], 'bodies')
    check(equalsBytes(block.hash(), wanted[i].hash()), 'bodies', `#${wanted[i].number}: block hash`)
    txHashes.push(...block.transactions.map((tx) => hex(tx.hash())))
  }
  report({ event: 'bodies', count: bodies.length, txHashes })
  // one legacy (EIP-155) and one EIP-1559 transaction from the same account, in one Transactions message
  const key = hexToBytes(`0x${cfg.key}`)
  const to = hexToBytes(`0x${cfg.to}`)
  const legacy = createLegacyTx({ nonce: BigInt(cfg.nonce), gasPrice: BigInt(cfg.feeCap), gasLimit: 21000n, to,
    value: BigInt(cfg.value) }, { common }).sign(key)
  const dynamic = createFeeMarket1559Tx({ chainId: BigInt(cfg.networkId), nonce: BigInt(cfg.nonce) + 1n,
    maxPriorityFeePerGas: BigInt(cfg.tip), maxFeePerGas: BigInt(cfg.feeCap), gasLimit: 21000n, to,
    value: BigInt(cfg.value) }, { common }).sign(key)
  unmined = new Set([legacy, dynamic].map((tx) => hex(tx.hash())))
  // a legacy transaction travels as its RLP list, a typed one as the byte string type || payload
  eth.sendMessage(2, [legacy.raw(), dynamic.serialize()])
  report({ event: 'sent', hashes: [legacy, dynamic].map((tx) => hex(tx.hash())),
    sender: hex(legacy.getSenderAddress().bytes), types: [legacy.type, dynamic.type] })
}

async function onNewBlock(peer, [values, td]) {
  const block = await checkedBlock(values, 'newblock')
  const txHashes = block.transactions.map((tx) => hex(tx.hash()))
  report({ event: 'newblock', number: Number(block.header.number), hash: hex(block.hash()), td: int(td), txHashes,
    parent: hex(block.header.parentHash) })
  if (unmined === null) return
  for (const h of txHashes) unmined.delete(h)
  if (unmined.size === 0 && mode === 'dial') peer.disconnect(0x08)
}

function onBlockHashes(peer, announced) {
  report({ event: 'announced', blocks: announced.map(([hash, number]) => ({ hash: hex(hash), number: int(number) })) })
}

rlpx.events.on('peer:removed', (peer, reason, byUs) => {
  report({ event: 'removed', reason, byUs })
  setTimeout(() => process.exit(0), 100)
})
rlpx.events.on('peer:error', (peer, err) => report({ event: 'error', error: String(err) }))
rlpx.events.on('error', (err) => report({ event: 'error', error: String(err) }))

if (mode === 'listen') {
  rlpx.events.on('listening', () => report({ event: 'listening', id: hex(rlpx.id), port: rlpx._server.address().port }))
  rlpx.listen(0, '127.0.0.1')
} else {
  const m = /^enode:\/\/([0-9a-f]{128})@([^:]+):(\d+)$/.exec(enode)
  rlpx.connect({ id: hexToBytes(`0x${m[1]}`), address: m[2], tcpPort: Number(m[3]) })
    .catch((e) => report({ event: 'error', error: String(e) }))
}
setTimeout(() => { report({ event: 'timeout' }); process.exit(1) }, 60000)
