// ethers.js v6 over HTTP: legacy (type 0) and EIP-1559 (type 2) transactions, and 50 transactions sent back to
// back with pending nonces, all mined in nonce order.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ethers } from "ethers";
import { CHAIN_ID, GWEI, PRIVATE_KEY, deployToken, eip1559Fees, fundedWallet, httpProvider } from "./helpers.mjs";

let provider, owner;

before(async () => {
  provider = httpProvider();
  owner = new ethers.Wallet(PRIVATE_KEY, provider);
});

after(() => provider.destroy());

test("sends a legacy (type 0) transaction", async () => {
  const to = ethers.Wallet.createRandom().address;
  const tx = await owner.sendTransaction({ to, value: 12345n, type: 0 });
  assert.equal(tx.type, 0);
  assert.equal(tx.gasPrice, GWEI);            // eth_gasPrice
  assert.equal(tx.maxFeePerGas, null);
  assert.equal(tx.chainId, CHAIN_ID);         // EIP-155 signed
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.equal(receipt.type, 0);
  assert.equal(receipt.gasPrice, GWEI);
  assert.equal(await provider.getBalance(to), 12345n);
  const mined = await provider.getTransaction(tx.hash);
  assert.equal(mined.type, 0);
  assert.equal(mined.blockNumber, receipt.blockNumber);
  assert.equal(mined.gasPrice, GWEI);
  assert.equal(mined.from, owner.address);
  assert.equal(mined.nonce, tx.nonce);
  assert.equal(mined.signature.serialized, tx.signature.serialized);
});

test("sends an EIP-1559 (type 2) transaction", async () => {
  const to = ethers.Wallet.createRandom().address;
  const tip = BigInt(await provider.send("eth_maxPriorityFeePerGas", []));
  assert.equal(tip, GWEI);
  const tx = await owner.sendTransaction({ to, value: 54321n, ...(await eip1559Fees(provider)) });
  assert.equal(tx.type, 2);
  assert.equal(tx.maxPriorityFeePerGas, tip);
  assert.equal(tx.maxFeePerGas, tip);
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.equal(receipt.type, 2);
  assert.equal(receipt.gasPrice, tip);   // base fee 0 + tip
  assert.equal(await provider.getBalance(to), 54321n);
  const mined = await provider.getTransaction(tx.hash);
  assert.equal(mined.type, 2);
  assert.equal(mined.maxFeePerGas, tip);
  assert.equal(mined.maxPriorityFeePerGas, tip);
  assert.equal(mined.gasPrice, tip);     // a mined type 2 reports its effective price, as geth does
  assert.equal(mined.chainId, CHAIN_ID);
  assert.equal(mined.signature.serialized, tx.signature.serialized);

  // A contract call as type 2 with the fee cap above the tip: the effective price is base fee (0) + tip.
  const { token } = await deployToken(owner);
  const call = await token.transfer(to, 3n, { type: 2, maxFeePerGas: 3n * GWEI, maxPriorityFeePerGas: 2n * GWEI });
  const callReceipt = await call.wait();
  assert.equal(callReceipt.type, 2);
  assert.equal(callReceipt.gasPrice, 2n * GWEI);
  assert.equal(await token.balanceOf(to), 3n);
  const [fees, head] = [await provider.getFeeData(), await provider.getBlock("latest")];
  assert.equal(head.baseFeePerGas, 0n);
  // What ethers makes of a zero base fee (as on BSC): no EIP-1559 suggestion, so an untyped send is legacy.
  assert.equal(fees.gasPrice, GWEI);
  assert.equal(fees.maxFeePerGas, null);
  const untyped = await owner.sendTransaction({ to, value: 1n });
  assert.equal(untyped.type, 0);
  assert.equal((await untyped.wait()).type, 0);
});

test("fires 50 transactions back to back with pending nonces, mined in order", async () => {
  const sender = await fundedWallet(owner);   // a fresh account: nonces 0..49
  assert.equal(await provider.getTransactionCount(sender.address), 0);
  const signer = new ethers.NonceManager(sender);
  const to = ethers.Wallet.createRandom().address;
  const fees = await eip1559Fees(provider);

  // All 50 fired at once, none awaited before the next: the NonceManager reads getTransactionCount("pending")
  // once and counts up locally; ethers batches the eth_sendRawTransaction calls.
  const sent = await Promise.all([...Array(50).keys()].map((i) =>
    signer.sendTransaction({ to, value: BigInt(i + 1), ...(i % 2 === 0 ? fees : { type: 0 }) })));
  assert.deepEqual(sent.map((tx) => tx.nonce), [...Array(50).keys()]);
  // Whatever is still pending is counted by the pending nonce.
  assert.equal(await provider.getTransactionCount(sender.address, "pending"), 50);

  const receipts = await Promise.all(sent.map((tx) => tx.wait()));
  assert.ok(receipts.every((r) => r.status === 1));
  assert.deepEqual(receipts.map((r) => r.type), sent.map((tx) => tx.type));
  // Mined in nonce order: by (block, index in block) the receipts come in the order they were sent.
  const order = receipts.map((r, nonce) => ({ nonce, block: r.blockNumber, index: r.index }));
  order.sort((a, b) => a.block - b.block || a.index - b.index);
  assert.deepEqual(order.map((o) => o.nonce), [...Array(50).keys()]);
  for (const [i, r] of receipts.entries()) {
    const tx = await provider.getTransaction(r.hash);
    assert.equal(tx.nonce, i);
    assert.equal(tx.blockNumber, r.blockNumber);
  }
  assert.equal(await provider.getTransactionCount(sender.address, "latest"), 50);
  assert.equal(await provider.getBalance(to), (50n * 51n) / 2n);

  // A plain Wallet takes each nonce from getTransactionCount("pending"), which counts what the pool holds.
  const base = await provider.getTransactionCount(owner.address, "pending");
  const more = [];
  for (let i = 0; i < 10; i++) {
    more.push(await owner.sendTransaction({ to, value: 1n, type: 0 }));   // broadcast only, not mined yet
  }
  assert.deepEqual(more.map((tx) => tx.nonce), [...Array(10).keys()].map((i) => base + i));
  const mined = await Promise.all(more.map((tx) => tx.wait()));
  assert.ok(mined.every((r) => r.status === 1));
  assert.equal(await provider.getTransactionCount(owner.address, "latest"), base + 10);
  assert.equal(await provider.getBalance(to), (50n * 51n) / 2n + 10n);
});
