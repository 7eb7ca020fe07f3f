"""Fees: eth_gasPrice, eth_maxPriorityFeePerGas, eth_feeHistory (geth's gasprice oracle rules), eth_baseFee and
eth_blobBaseFee.

The suggested tip is the pool's minimum gas price, at least 1 gwei unless the node is configured to take 0 (on a
Parlia chain the base fee stays 0, as on BSC, so the tip is the whole price). Base and blob fees follow the chain's
fork rules (node.forks). Fee history computes reward percentiles as geth does: each block's transactions sorted by
effective tip, weighted by the gas each used.
"""
from __future__ import annotations

from node.chain.blobgas import GAS_PER_BLOB
from rpc import encode
from rpc.blocks import number_of
from rpc.errors import ServerError
from rpc.params import BlockCount, BlockNumber, Percentiles

GWEI = 10**9
MAX_HISTORY = 1024             # geth's --rpc.feehistory.maxheaders / maxblocks
MAX_PERCENTILES = 100          # geth's maxQueryLimit


def suggested_tip(node) -> int:
    minimum = node.pool.config.min_gas_price
    return 0 if minimum == 0 else max(minimum, GWEI)


def gas_price(node) -> str:
    return encode.quantity(suggested_tip(node) + encode.base_fee(node.chain.head))


def max_priority_fee_per_gas(node) -> str:
    return encode.quantity(suggested_tip(node))


def base_fee(node) -> str:
    """eth_baseFee: the base fee of the block after the head, by the chain's rules (0 on a Parlia chain)."""
    return encode.quantity(encode.base_fee(node.chain.next_header()))


def blob_base_fee(node) -> str:
    """eth_blobBaseFee: the price of blob gas at the head (geth's CalcBlobFee of the current header)."""
    return encode.quantity(node.chain.schedule.blob_base_fee(node.chain.head))


def fee_history(node, block_count: BlockCount, newest: BlockNumber, percentiles: Percentiles = None) -> dict:
    percentiles = percentiles or []
    _check_percentiles(percentiles)
    if block_count < 1:
        return {"oldestBlock": "0x0", "gasUsedRatio": None}
    head = node.chain.head.block_number
    if newest.number is not None and newest.number > head:
        raise ServerError(f"request beyond head block: requested {newest.number}, head {head}")
    last = number_of(node, newest)
    count = min(block_count, MAX_HISTORY, last + 1)
    oldest = last + 1 - count
    rewards, base_fees, ratios, blob_fees, blob_ratios = [], [], [], [], []
    header = None
    schedule = node.chain.schedule
    for number in range(oldest, last + 1):
        header = node.chain.header_by_number(number)
        base_fees.append(encode.base_fee(header))
        ratios.append(header.gas_used / header.gas_limit)
        blob_fees.append(schedule.blob_base_fee(header))
        params = schedule.blob_params(schedule.fork_for(header))
        blob_ratios.append(header.blob_gas_used / (params.max * GAS_PER_BLOB) if params else 0)
        if percentiles:
            rewards.append(_rewards(node, header, percentiles))
    base_fees.append(encode.base_fee(node.chain.next_header(header)))
    blob_fees.append(schedule.next_blob_base_fee(header))
    result = {"oldestBlock": encode.quantity(oldest)}
    if percentiles:
        result["reward"] = [[encode.quantity(r) for r in row] for row in rewards]
    result["baseFeePerGas"] = [encode.quantity(f) for f in base_fees]
    result["gasUsedRatio"] = [_number(r) for r in ratios]
    result["baseFeePerBlobGas"] = [encode.quantity(f) for f in blob_fees]
    result["blobGasUsedRatio"] = [_number(r) for r in blob_ratios]
    return result


def _check_percentiles(percentiles: list[float]) -> None:
    if len(percentiles) > MAX_PERCENTILES:
        raise ServerError(f"invalid reward percentile: over the query limit {MAX_PERCENTILES}")
    for i, p in enumerate(percentiles):
        if not 0 <= p <= 100:
            raise ServerError(f"invalid reward percentile: {p:f}")
        if i > 0 and p <= percentiles[i - 1]:
            raise ServerError(f"invalid reward percentile: #{i - 1}:{percentiles[i - 1]:f} >= #{i}:{p:f}")


def _rewards(node, header, percentiles: list[float]) -> list[int]:
    """geth's processBlock: tips sorted ascending, each percentile the tip at that share of the block's gas."""
    metas = node.chain.store.block_metas(header.hash) or []
    if not metas:
        return [0] * len(percentiles)
    base_fee = encode.base_fee(header)
    tips = sorted(((m.effective_gas_price - base_fee, m.gas_used) for m in metas), key=lambda t: t[0])
    out, index, gas_sum = [], 0, tips[0][1]
    for p in percentiles:
        threshold = int(header.gas_used * p / 100)
        while gas_sum < threshold and index < len(tips) - 1:
            index += 1
            gas_sum += tips[index][1]
        out.append(tips[index][0])
    return out


def _number(ratio: float) -> float | int:
    return ratio if ratio else 0   # geth writes a zero float64 as 0
