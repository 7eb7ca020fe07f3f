"""Tracers for debug_traceTransaction / debug_traceCall (entry points in node/tracing.py).

- evm: the py-evm seam (a computation class configured per trace) and the hooks it fires;
- struct_logger: geth's default opcode logger;
- call_tracer: geth's callTracer;
- opcodes: geth's instruction names and stack rules.
"""
