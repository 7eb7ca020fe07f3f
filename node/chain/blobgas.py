"""EIP-4844 blob gas: the blob base fee of a header and the next block's excess, by the fork's blob parameters.

A fork's parameters come from the genesis' config.blobSchedule (EIP-7840), else geth's defaults for Cancun, Prague
and Osaka. From Osaka, EIP-7918 keeps the blob base fee from falling below what a blob's share of execution costs.
"""
from __future__ import annotations

from node.chain.genesis import BlobParams

GAS_PER_BLOB = 2**17
MIN_BLOB_BASE_FEE = 1
BLOB_BASE_COST = 2**13         # EIP-7918
DEFAULTS = {
    "cancun": BlobParams(3, 6, 3338477),
    "prague": BlobParams(6, 9, 5007716),
}
# the forks that may carry their own blob parameters, as geth reads config.blobSchedule (Osaka keeps Prague's)
SCHEDULED_FORKS = ("cancun", "prague", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5")
# forks whose blob fee follows EIP-7918 (Osaka and every fork after it)
RESERVE_PRICE_FORKS = frozenset({"osaka", "bpo1", "bpo2", "bpo3", "bpo4", "bpo5", "amsterdam", "verkle"})


def fake_exponential(factor: int, numerator: int, denominator: int) -> int:
    """EIP-4844's integer approximation of factor * e ** (numerator / denominator)."""
    i, output, accumulator = 1, 0, factor * denominator
    while accumulator > 0:
        output += accumulator
        accumulator = accumulator * numerator // (denominator * i)
        i += 1
    return output // denominator


def blob_base_fee(excess_blob_gas: int, params: BlobParams) -> int:
    return fake_exponential(MIN_BLOB_BASE_FEE, excess_blob_gas, params.base_fee_update_fraction)


def next_excess_blob_gas(excess: int, used: int, base_fee: int, params: BlobParams, reserve_price: bool) -> int:
    """The excess blob gas of the child of a header with `excess`, `used` blob gas and `base_fee`, under the
    child's `params` (and EIP-7918's reserve price from Osaka on)."""
    target = params.target * GAS_PER_BLOB
    if excess + used < target:
        return 0
    if reserve_price and BLOB_BASE_COST * base_fee > GAS_PER_BLOB * blob_base_fee(excess, params):
        # EIP-7918: execution-priced blobs: the excess grows by the used share above target only
        return excess + used * (params.max - params.target) // params.max
    return excess + used - target
