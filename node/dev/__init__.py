"""Dev mode: anvil's and Hardhat's chain controls, the test accounts, and the in-process multi-validator Devnet."""
