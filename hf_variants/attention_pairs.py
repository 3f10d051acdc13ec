"""How many (query, key) pairs an attention mask allows: the attention-score term of the FLOP accounting.

One job: count pairs without building the mask — all pairs, the causal triangle, a causal band, or a sparse
pattern of `core/sparse.py` row by row — so `hfv flops` stays fast at long lengths (a test checks every count against
the pairs the eager kernel's attention weights really attend, tests/accounting/test_flops.py).
"""

from __future__ import annotations

import torch

from .core.sparse import random_block_table


def attention_pairs(queries: int, keys: int, causal: bool, window: int | None) -> int:
    """(query, key) pairs the mask allows: all, the causal triangle, or a causal band of `window` keys."""
    if not causal:
        return queries * keys
    offset = keys - queries  # keys before the first query (a cache); 0 in training
    if window is None:
        return sum(offset + i + 1 for i in range(queries))
    return sum(min(offset + i + 1, window) for i in range(queries))


def sparse_pairs(config, key: int, is_causal: bool, length: int, rows_per_step: int = 2048) -> int:
    """(query, key) pairs a sparse pattern (`core/sparse.py`, layers named `key`) allows over `length` tokens,
    intersected with the causal mask: per query row, the union of its band (or itself), the global positions and
    its random key blocks, or the whole row for a global query."""
    window = config.attention_window or 1  # no band: the diagonal
    size = config.attention_block_size
    num_blocks = -(-length // size)
    table = random_block_table(config, key, num_blocks, is_causal) if config.random_attention_blocks else None
    if table is not None:  # per query block: the chosen key blocks' indices (a few), and whether each is real
        chosen_blocks = table.to(torch.int8).topk(min(config.random_attention_blocks, num_blocks), dim=-1).indices
        chosen_valid = table.gather(1, chosen_blocks)
    positions = torch.tensor(sorted(p for p in config.global_attention_positions or () if p < length),
                             dtype=torch.long)
    total = 0
    for first in range(0, length, rows_per_step):
        i = torch.arange(first, min(first + rows_per_step, length))
        last = i if is_causal else torch.full_like(i, length - 1)  # the last key the causal mask allows
        band_lo = (i - window + 1).clamp(min=0)
        band_hi = i if is_causal else (i + window - 1).clamp(max=length - 1)
        count = band_hi - band_lo + 1
        if table is not None:  # key blocks clipped to the causal range, minus their overlap with the band
            lo = chosen_blocks[i // size] * size  # [rows, chosen]
            hi = torch.minimum(lo + size - 1, last[:, None])
            inside = (hi - lo + 1).clamp(min=0)
            overlap = (torch.minimum(hi, band_hi[:, None]) - torch.maximum(lo, band_lo[:, None]) + 1).clamp(min=0)
            count = count + ((inside - overlap) * chosen_valid[i // size]).sum(-1)
        if len(positions):  # global keys not already counted, then global queries see their whole causal row
            p = positions[None, :]
            seen = (p >= band_lo[:, None]) & (p <= band_hi[:, None])
            if table is not None:
                seen |= table[i // size][:, p[0] // size]
            count = count + ((p <= last[:, None]) & ~seen).sum(-1)
            count = torch.where(torch.isin(i, positions), last + 1, count)
        total += int(count.sum())
    return total
