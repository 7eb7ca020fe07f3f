"""Child process for the crash test: an automining node that keeps sending transfers and reports each block.

Usage: python crashnode.py DATADIR. Prints `BLOCK <number> <hash> <tx hashes comma-separated>` after each block
is committed, until it is killed.
"""
import sys
import time

from chainkit import GWEI, sign
from node.config import NodeConfig
from node.node import Node


def main(datadir: str) -> None:
    with Node(NodeConfig(datadir=datadir, block_time=0)) as node:
        sender, recipient = node.accounts[1], node.accounts[2]

        def report(block, receipts):
            print("BLOCK", block.number, block.hash.hex(), ",".join(tx.hash.hex() for tx in block.transactions),
                  flush=True)

        node.producer.listeners.append(report)
        nonce = node.chain.state_at().get_nonce(sender.address)
        while True:
            for _ in range(5):
                node.send_raw_transaction(sign(sender, nonce, recipient.address, 1, gas_price=GWEI))
                nonce += 1
            time.sleep(0.01)


if __name__ == "__main__":
    main(sys.argv[1])
