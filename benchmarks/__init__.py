"""Benchmarks of the node against stock py-evm, run by `python -m benchmarks` (see benchmarks/README.md).

Every section reports ratios to a reference measured in the same run (stock py-evm `mine_all`, a bare aiohttp
echo server), so figures from different machines or loads can be compared by their ratios.
"""
