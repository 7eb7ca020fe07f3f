// Shared set-up for the ethers.js tests: where the node is, the funded key, the Token artifact, providers.
// tests/test_ethers.py starts an automining node and sets RPC_URL and WS_URL; the defaults fit `smartchain run`.
import { readFileSync } from "node:fs";
import { ethers } from "ethers";

export const RPC_URL = process.env.RPC_URL ?? "http://127.0.0.1:8545";
export const WS_URL = process.env.WS_URL ?? RPC_URL.replace(/^http/, "ws");
// The first account of `test test ... junk` (funded in genesis.json).
export const PRIVATE_KEY = process.env.PRIVATE_KEY
  ?? "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const CHAIN_ID = BigInt(process.env.CHAIN_ID ?? 714);
export const GWEI = 10n ** 9n;
export const SUPPLY = 10n ** 24n;

export const TOKEN = JSON.parse(readFileSync(new URL("../../contracts/build/Token.json", import.meta.url), "utf8"));

// Provider options for a chain that seals a block as soon as a transaction arrives:
// - pollingInterval: ethers polls for new blocks every 4 s by default;
// - cacheTimeout -1: ethers answers a request identical to one made in the last 250 ms from a cache, so a
//   balance or pending nonce read again right after a transaction is mined would be the stale one.
export const FAST = { pollingInterval: 50, cacheTimeout: -1 };

export function httpProvider(options = {}) {
  return new ethers.JsonRpcProvider(RPC_URL, undefined, { ...FAST, ...options });
}

/** EIP-1559 fee fields, from eth_maxPriorityFeePerGas. ethers' getFeeData() leaves maxFeePerGas and
 * maxPriorityFeePerGas null when the head's baseFeePerGas is 0 (its test is `if (block.baseFeePerGas)`),
 * as on BSC, so type 2 transactions need them given explicitly. */
export async function eip1559Fees(provider) {
  const tip = BigInt(await provider.send("eth_maxPriorityFeePerGas", []));
  return { type: 2, maxFeePerGas: tip, maxPriorityFeePerGas: tip };
}

/** Deploys a fresh Token("Test", "TST", SUPPLY) from `signer` and waits for it to be mined. */
export async function deployToken(signer, supply = SUPPLY) {
  const factory = new ethers.ContractFactory(TOKEN.abi, TOKEN.bytecode, signer);
  const token = await factory.deploy("Test", "TST", supply);
  const receipt = await token.deploymentTransaction().wait();
  return { token, receipt };
}

/** A new random wallet holding `amount` wei, sent from `funder`. */
export async function fundedWallet(funder, amount = ethers.parseEther("10")) {
  const wallet = ethers.Wallet.createRandom().connect(funder.provider);
  await (await funder.sendTransaction({ to: wallet.address, value: amount })).wait();
  return wallet;
}

/** Runs `fn` and returns the error it throws (fails when it does not throw). */
export async function rejection(fn) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

/** Records every JSON-RPC call made through `provider.send` (ethers' subscribers and requests all go through
 * it) as {method, params, result, error, done}; `settle()` waits for every call made so far to be answered. */
export function recordCalls(provider) {
  const calls = [];
  const send = provider.send.bind(provider);
  provider.send = (method, params) => {
    const call = { method, params };
    call.done = send(method, params).then(
      (result) => { call.result = result; return result; },
      (error) => { call.error = error; throw error; });
    calls.push(call);
    return call.done;
  };
  calls.settle = async () => {
    for (let round = 0; round < 3; round++) {   // answers may start further calls (a subscription's first poll)
      await new Promise((resolve) => setTimeout(resolve, 20));
      await Promise.allSettled(calls.map((call) => call.done));
    }
  };
  calls.named = (method) => calls.filter((call) => call.method === method);
  return calls;
}

/** Resolves once `condition()` holds (checked every 20 ms); rejects after `ms`. `what` may be a function, called
 * for the message on timeout (to show what had arrived). `tick`, if given, is awaited every 250 ms meanwhile. */
export async function until(condition, what, { ms = 10000, tick = null } = {}) {
  const deadline = Date.now() + ms;
  let nextTick = Date.now() + 250;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    }
    if (tick && Date.now() >= nextTick) {
      await tick();
      nextTick = Date.now() + 250;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** JSON for messages, with bigints as decimal strings. */
export const show = (value) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
