"""Execution for reads: eth_call and eth_estimateGas, the EVM deadline, tracing and its tracers."""
