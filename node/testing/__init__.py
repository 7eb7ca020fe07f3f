"""In-process testing: a web3.py provider without HTTP and a pytest plugin."""
