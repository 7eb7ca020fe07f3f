// ethers.js v6 live listeners: contract.on("Transfer") on a JsonRpcProvider (an eth_newFilter filter polled with
// eth_getFilterChanges on every new block) and on a WebSocketProvider (eth_subscribe "logs" and "newHeads").
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ethers } from "ethers";
import { CHAIN_ID, FAST, PRIVATE_KEY, WS_URL, deployToken, httpProvider, recordCalls, show, until } from "./helpers.mjs";

const TRANSFER_TOPIC = ethers.id("Transfer(address,address,uint256)");

let provider, owner, token, address;

before(async () => {
  provider = httpProvider();
  owner = new ethers.Wallet(PRIVATE_KEY, provider);
  ({ token } = await deployToken(owner));
  address = await token.getAddress();
});

after(() => provider.destroy());

/** A listener collecting [from, to, value, transactionHash, blockNumber] per event. ethers calls it with the
 * decoded args and then the event payload for an event named by its name, but with the payload alone for a
 * filter with arguments (contract.filters.Transfer(null, to)); ethers swallows a listener's exceptions, so a
 * mismatch is recorded in `problems`. */
function collector() {
  const seen = [];
  const problems = [];
  const listener = (...args) => {
    const { log } = args.at(-1);
    const decoded = [...token.interface.parseLog(log).args];
    if (args.length > 1 && show(args.slice(0, -1)) !== show(decoded)) {
      problems.push({ args: show(args.slice(0, -1)), decoded: show(decoded) });
    }
    seen.push([...decoded, log.transactionHash, log.blockNumber]);
  };
  return { seen, listener, problems };
}

/** One more block, without logs. */
async function nudge() {
  await (await owner.sendTransaction({ to: owner.address, value: 0n })).wait();
}

async function transfers(to, values) {
  const receipts = [];
  for (const value of values) {
    receipts.push(await (await token.transfer(to, value)).wait());
  }
  return receipts.map((r, i) => [owner.address, to, values[i], r.hash, r.blockNumber]);
}

test("contract.on(\"Transfer\") over HTTP uses an eth_newFilter filter polled by eth_getFilterChanges", async () => {
  const watcher = httpProvider();   // no `polling` option: ethers installs a filter
  const calls = recordCalls(watcher);
  try {
    const watched = token.connect(watcher);
    const all = collector();
    const bob = ethers.Wallet.createRandom().address;
    const carol = ethers.Wallet.createRandom().address;
    const toCarol = collector();
    await watched.on("Transfer", all.listener);
    await watched.on(watched.filters.Transfer(null, carol), toCarol.listener);
    await calls.settle();

    const filters = calls.named("eth_newFilter");
    assert.equal(filters.length, 2, "one filter per event filter");
    assert.deepEqual(filters.map((c) => c.params[0]), [   // ethers sends the address as a one-element list
      { address: [address.toLowerCase()], topics: [TRANSFER_TOPIC] },
      { address: [address.toLowerCase()], topics: [TRANSFER_TOPIC, null, ethers.zeroPadValue(carol, 32).toLowerCase()] },
    ]);
    for (const c of filters) {
      assert.equal(c.error, undefined, `eth_newFilter failed: ${c.error}`);
      assert.match(c.result, /^0x[0-9a-f]+$/);
    }

    const expected = [...await transfers(bob, [1n, 2n]), ...await transfers(carol, [3n])];
    // ethers polls a filter on the next "block" event after its last poll, with a `once` listener; when that
    // was the only block listener, the block poller is torn down and restarted, and the restarted one only
    // notes the current head, so a block mined in between is not announced. On a chain that seals blocks only
    // for transactions nothing more comes, and the filter's changes wait on the node: a value transfer without
    // logs every 250 ms (nudge) gives ethers the next block, as a chain with a block time would.
    await until(() => all.seen.length >= 3 && toCarol.seen.length >= 1,
      () => `the Transfer events; got ${show({ all: all.seen, toCarol: toCarol.seen, calls: calls.filter((c) => c.method.includes("Filter")) })}`,
      { tick: nudge });
    assert.deepEqual(all.seen, expected);
    assert.deepEqual(toCarol.seen, expected.slice(2));
    assert.deepEqual([...all.problems, ...toCarol.problems], []);

    const polls = calls.named("eth_getFilterChanges");
    assert.ok(polls.length >= 1);
    assert.ok(polls.every((c) => c.error === undefined), "eth_getFilterChanges failed");
    assert.deepEqual(calls.named("eth_getLogs"), [], "ethers fell back to eth_getLogs polling");

    await watched.off("Transfer", all.listener);
    await watched.off(watched.filters.Transfer(null, carol), toCarol.listener);
    await calls.settle();
    const removed = calls.named("eth_uninstallFilter");
    assert.deepEqual(removed.map((c) => c.params[0]).sort(), filters.map((c) => c.result).sort());
    assert.deepEqual(removed.map((c) => c.result), [true, true]);

    // Nothing more arrives once removed.
    await transfers(bob, [4n]);
    await calls.settle();
    assert.equal(all.seen.length, 3);
  } finally {
    watcher.destroy();
  }
});

test("WebSocketProvider: chain id, balance, newHeads, and contract.on(\"Transfer\") by eth_subscribe", async () => {
  const ws = new ethers.WebSocketProvider(WS_URL, undefined, FAST);
  const calls = recordCalls(ws);
  try {
    assert.equal((await ws.getNetwork()).chainId, CHAIN_ID);
    assert.equal(await ws.getBalance(owner.address), await provider.getBalance(owner.address));

    const blocks = [];
    await ws.on("block", (number) => blocks.push(number));
    const watched = token.connect(ws);
    const events = collector();
    await watched.on("Transfer", events.listener);
    await calls.settle();

    const subs = calls.named("eth_subscribe");
    assert.deepEqual(subs.map((c) => c.params[0]), ["newHeads", "logs"]);
    assert.deepEqual(subs[1].params[1], { address: [address.toLowerCase()], topics: [TRANSFER_TOPIC] });
    for (const c of subs) {
      assert.equal(c.error, undefined, `eth_subscribe failed: ${c.error}`);
      assert.match(c.result, /^0x[0-9a-f]+$/);
    }

    // Sent over the WebSocket too: tx.wait() there waits on the newHeads subscription.
    const signer = new ethers.Wallet(PRIVATE_KEY, ws);
    const bob = ethers.Wallet.createRandom().address;
    const expected = [];
    for (const value of [5n, 6n]) {
      const receipt = await (await token.connect(signer).transfer(bob, value)).wait();
      expected.push([owner.address, bob, value, receipt.hash, receipt.blockNumber]);
    }
    await until(() => events.seen.length >= 2, "the Transfer events over the WebSocket");
    assert.deepEqual(events.seen, expected);
    assert.deepEqual(events.problems, []);
    await until(() => blocks.includes(expected[1][4]), `newHeads for block ${expected[1][4]}`);
    assert.ok(blocks.includes(expected[0][4]));
    assert.deepEqual(blocks, [...blocks].sort((a, b) => a - b));
    assert.equal(await watched.balanceOf(bob), 11n);

    await watched.off("Transfer", events.listener);
    await ws.off("block");
    await calls.settle();
    const gone = calls.named("eth_unsubscribe");
    assert.deepEqual(gone.map((c) => c.params[0]).sort(), subs.map((c) => c.result).sort());
    assert.deepEqual(gone.map((c) => c.result), [true, true]);
  } finally {
    await ws.destroy();
  }
});
