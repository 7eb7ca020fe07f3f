"""Proof-of-staked-authority consensus modelled on BSC's Parlia: header rules, snapshots, staking."""
