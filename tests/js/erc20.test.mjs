// ethers.js v6 over HTTP: connect, chain id and balances, ERC-20 deploy, transfer, Transfer logs by eth_getLogs,
// and the custom-error and require-string reverts decoded from eth_call and eth_estimateGas.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ethers } from "ethers";
import { CHAIN_ID, PRIVATE_KEY, SUPPLY, TOKEN, deployToken, httpProvider, recordCalls, rejection, show, until } from "./helpers.mjs";

let provider, owner, alice, token, deployReceipt;

before(async () => {
  provider = httpProvider();
  owner = new ethers.Wallet(PRIVATE_KEY, provider);
  alice = ethers.Wallet.createRandom().connect(provider);
});

after(() => provider.destroy());

test("connects and reads the chain id, block number and balances", async () => {
  const network = await provider.getNetwork();
  assert.equal(network.chainId, CHAIN_ID);
  assert.equal(await provider.send("eth_chainId", []), ethers.toQuantity(CHAIN_ID));
  assert.equal(await provider.send("net_version", []), CHAIN_ID.toString());

  const head = await provider.getBlock("latest");
  assert.equal(head.number, await provider.getBlockNumber());
  assert.equal(head.baseFeePerGas, 0n);   // BSC: base fee 0
  assert.ok(head.hash.match(/^0x[0-9a-f]{64}$/));

  const funds = await provider.getBalance(owner.address);
  assert.ok(funds > ethers.parseEther("1000"), `owner balance ${funds}`);
  assert.equal(await provider.getBalance(alice.address), 0n);

  // A value transfer moves exactly the value ...
  const value = ethers.parseEther("1.5");
  const receipt = await (await owner.sendTransaction({ to: alice.address, value })).wait();
  assert.equal(receipt.status, 1);
  assert.equal(receipt.gasUsed, 21000n);
  assert.equal(await provider.getBalance(alice.address), value);
  // ... and a sender that is not the block's validator (the owner is: in dev mode it seals and earns the fees)
  // pays exactly value + gasUsed * effectiveGasPrice.
  const bob = ethers.Wallet.createRandom().address;
  const spent = await (await alice.sendTransaction({ to: bob, value: 1000n })).wait();
  assert.equal(spent.fee, spent.gasUsed * spent.gasPrice);
  assert.equal(await provider.getBalance(alice.address), value - 1000n - spent.fee);
  assert.equal(await provider.getBalance(alice.address, receipt.blockNumber), value);
  assert.equal(await provider.getBalance(bob), 1000n);
  const block = await provider.getBlock(spent.blockNumber);
  assert.equal(block.miner, owner.address);
});

test("deploys the ERC-20 and reads its state", async () => {
  ({ token, receipt: deployReceipt } = await deployToken(owner));
  assert.equal(deployReceipt.status, 1);
  assert.equal(deployReceipt.contractAddress, await token.getAddress());
  assert.equal(await provider.getCode(await token.getAddress()), TOKEN.deployedBytecode);
  assert.equal(await token.name(), "Test");
  assert.equal(await token.symbol(), "TST");
  assert.equal(await token.decimals(), 18n);
  assert.equal(await token.totalSupply(), SUPPLY);
  assert.equal(await token.balanceOf(owner.address), SUPPLY);

  // The constructor's mint, decoded from the receipt.
  const [mint] = deployReceipt.logs.map((log) => token.interface.parseLog(log));
  assert.equal(mint.name, "Transfer");
  assert.deepEqual([...mint.args], [ethers.ZeroAddress, owner.address, SUPPLY]);
});

test("transfers tokens and reads the Transfer events by eth_getLogs", async () => {
  const tx = await token.transfer(alice.address, 700n);
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.equal(receipt.hash, tx.hash);
  assert.equal(await token.balanceOf(alice.address), 700n);
  assert.equal(await token.balanceOf(owner.address), SUPPLY - 700n);

  // From the receipt: a ContractTransactionReceipt decodes its own logs.
  const [event] = receipt.logs;
  assert.equal(event.eventName, "Transfer");
  assert.deepEqual([...event.args], [owner.address, alice.address, 700n]);

  // eth_getLogs over the whole chain: the mint, then the transfer.
  const all = await token.queryFilter("Transfer", 0, "latest");
  assert.deepEqual(all.map((e) => [e.args.from, e.args.to, e.args.value, e.blockNumber, e.transactionHash]), [
    [ethers.ZeroAddress, owner.address, SUPPLY, deployReceipt.blockNumber, deployReceipt.hash],
    [owner.address, alice.address, 700n, receipt.blockNumber, receipt.hash],
  ]);
  // Filtered by an indexed argument (topic 2), and by a block range holding only the transfer.
  const toAlice = await token.queryFilter(token.filters.Transfer(null, alice.address));
  assert.deepEqual(toAlice.map((e) => [e.args.value, e.transactionHash, e.index, e.transactionIndex]),
    [[700n, receipt.hash, receipt.logs[0].index, receipt.index]]);
  const inBlock = await token.queryFilter("Transfer", receipt.blockNumber, receipt.blockNumber);
  assert.deepEqual(inBlock.map((e) => e.transactionHash), [receipt.hash]);
  assert.deepEqual(await token.queryFilter(token.filters.Transfer(alice.address)), []);

  // The same logs through the provider with a raw topic filter.
  const raw = await provider.getLogs({
    address: await token.getAddress(),
    topics: [ethers.id("Transfer(address,address,uint256)"), null, ethers.zeroPadValue(alice.address, 32)],
    fromBlock: 0,
  });
  assert.equal(raw.length, 1);
  assert.equal(ethers.toBigInt(raw[0].data), 700n);
  assert.equal(raw[0].blockHash, receipt.blockHash);
});

test("a live Transfer listener on a polling provider (polling: true, eth_getLogs per new block)", async () => {
  const polling = httpProvider({ polling: true });
  const calls = recordCalls(polling);
  try {
    const watched = token.connect(polling);
    const seen = [];
    const listener = (from, to, value, event) => seen.push([from, to, value, event.log.transactionHash, event.log.blockNumber]);
    await watched.on("Transfer", listener);
    await calls.settle();   // the subscriber has read the block number it starts after
    // One transfer at a time, each seen before the next: ethers polls getLogs from the last block it saw a log
    // in, without waiting for the previous poll, so two blocks within one polling interval would be fetched by
    // overlapping polls and the first block's logs emitted twice.
    const bob = ethers.Wallet.createRandom().address;
    const expected = [];
    for (const value of [11n, 22n]) {
      const receipt = await (await token.transfer(bob, value)).wait();
      expected.push([owner.address, bob, value, receipt.hash, receipt.blockNumber]);
      await until(() => seen.length >= expected.length, () => `Transfer ${value}; got ${show(seen)}`);
    }
    await calls.settle();
    assert.deepEqual(seen, expected);
    await watched.off("Transfer", listener);
    assert.ok(calls.named("eth_getLogs").length >= 1);
    assert.deepEqual(calls.named("eth_newFilter"), []);
  } finally {
    polling.destroy();
  }
});

const INSUFFICIENT = "InsufficientBalance(address,uint256,uint256)";

test("decodes the custom error InsufficientBalance from eth_call (staticCall)", async () => {
  const poor = token.connect(alice);   // alice holds 700
  const error = await rejection(() => poor.transfer.staticCall(owner.address, 701n));
  assert.equal(error.code, "CALL_EXCEPTION");
  assert.equal(error.action, "call");
  assert.equal(error.data.slice(0, 10), ethers.id(INSUFFICIENT).slice(0, 10));
  // ethers decodes it with the contract's ABI into `revert` ...
  assert.equal(error.revert.name, "InsufficientBalance");
  assert.equal(error.revert.signature, INSUFFICIENT);
  assert.deepEqual([...error.revert.args], [alice.address, 700n, 701n]);
  assert.equal(error.reason, INSUFFICIENT);
  assert.equal(error.message, `execution reverted: ${INSUFFICIENT}`);
  // ... and so does the interface, from the raw revert data.
  const parsed = token.interface.parseError(error.data);
  assert.equal(parsed.name, "InsufficientBalance");
  assert.deepEqual([...parsed.args], [alice.address, 700n, 701n]);
  assert.equal(parsed.args.account, alice.address);
  assert.equal(parsed.args.available, 700n);
  assert.equal(parsed.args.required, 701n);
});

test("decodes the custom error InsufficientBalance from eth_estimateGas", async () => {
  const poor = token.connect(alice);
  const error = await rejection(() => poor.transfer.estimateGas(owner.address, 701n));
  assert.equal(error.code, "CALL_EXCEPTION");
  assert.equal(error.action, "estimateGas");
  const parsed = token.interface.parseError(error.data);
  assert.equal(parsed.name, "InsufficientBalance");
  assert.deepEqual([...parsed.args], [alice.address, 700n, 701n]);
  // A wallet sending it is stopped at the estimate, and nothing is sent.
  const nonce = await provider.getTransactionCount(alice.address, "pending");
  const sent = await rejection(() => poor.transfer(owner.address, 701n));
  assert.equal(sent.code, "CALL_EXCEPTION");
  assert.equal(token.interface.parseError(sent.data).name, "InsufficientBalance");
  assert.equal(await provider.getTransactionCount(alice.address, "pending"), nonce);
});

test("decodes the require string from eth_call and eth_estimateGas", async () => {
  const spender = token.connect(alice);   // no allowance from owner
  for (const [attempt, action] of [[spender.transferFrom.staticCall, "call"], [spender.transferFrom.estimateGas, "estimateGas"]]) {
    const error = await rejection(() => attempt(owner.address, alice.address, 1n));
    assert.equal(error.code, "CALL_EXCEPTION", action);
    assert.equal(error.action, action);
    assert.equal(error.reason, "ERC20: insufficient allowance", action);
    assert.equal(error.revert.name, "Error");
    assert.equal(error.revert.signature, "Error(string)");
    assert.deepEqual([...error.revert.args], ["ERC20: insufficient allowance"]);
    assert.match(error.shortMessage, /ERC20: insufficient allowance/);
    const parsed = token.interface.parseError(error.data);
    assert.equal(parsed.name, "Error");
    assert.deepEqual([...parsed.args], ["ERC20: insufficient allowance"]);
  }
  // With an allowance the same call goes through.
  await (await token.approve(alice.address, 5n)).wait();
  assert.equal(await token.allowance(owner.address, alice.address), 5n);
  assert.equal(await spender.transferFrom.staticCall(owner.address, alice.address, 5n), true);
  const error = await rejection(() => spender.transferFrom.staticCall(owner.address, alice.address, 6n));
  assert.equal(error.reason, "ERC20: insufficient allowance");
});
