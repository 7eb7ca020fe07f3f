#!/usr/bin/env node
// Compiles every contracts/*.sol with solcjs (standard JSON) and writes one
// artifact per contract to contracts/build/<Contract>.json:
//   {contractName, abi, bytecode, deployedBytecode, compiler: {version, settings}}
// Output is pretty-printed with a fixed key order, so recompiling the same
// sources with the same solc gives byte-identical files.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const HERE = __dirname;
const BUILD = path.join(HERE, 'build');

// What decides the bytecode; recorded in every artifact.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'prague',
};

function main() {
  const files = fs.readdirSync(HERE).filter((f) => f.endsWith('.sol')).sort();
  if (files.length === 0) {
    throw new Error(`no .sol files in ${HERE}`);
  }
  const sources = {};
  for (const f of files) {
    sources[f] = { content: fs.readFileSync(path.join(HERE, f), 'utf8') };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));

  const diagnostics = output.errors || [];
  for (const d of diagnostics) {
    console.error(d.formattedMessage || d.message);
  }
  if (diagnostics.some((d) => d.severity === 'error')) {
    process.exit(1);
  }

  fs.mkdirSync(BUILD, { recursive: true });
  const version = solc.version();
  for (const file of files) {
    for (const [contractName, c] of Object.entries(output.contracts[file] || {}).sort()) {
      const artifact = {
        contractName,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
        compiler: { version, settings: SETTINGS },
      };
      const out = path.join(BUILD, `${contractName}.json`);
      fs.writeFileSync(out, JSON.stringify(artifact, null, 2) + '\n');
      console.log(`wrote ${path.relative(process.cwd(), out)}`);
    }
  }
}

main();
