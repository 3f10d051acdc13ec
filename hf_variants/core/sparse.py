"""Sparse attention patterns (local window, global positions, BigBird random blocks, per-layer choice): their
config validation and their mask functions.

A pattern is a transformers `mask_function` (batch, head, query, key) -> bool, intersected with the causal or
bidirectional mask by transformers' masking utilities (`and_mask_function`), so eager and sdpa get the dense mask
and flex a BlockMask that skips the blocks the pattern empties. Positions are indices in the (padded) sequence,
which are also the KV-cache slots, so a cached decoding step sees exactly the row of the full forward.

A "local" layer lets query i see key j when any of these holds (and the causal/padding mask allows it):
- j == i (every query sees itself, so no row is empty);
- the band: |i - j| < attention_window in bidirectional stacks, i - attention_window < j <= i in causal ones
  (exactly Mistral's sliding_window band; the two fields are exclusive, see `validate_sparse_attention`);
- i or j is one of global_attention_positions (Longformer's global tokens; [0] = its [CLS] rule);
- j's block (attention_block_size tokens) is one of the random_attention_blocks key blocks drawn for i's block:
  without repetition among the blocks the query may see (causal: blocks 0..i's block; bidirectional: every block
  of the sequence), from random_attention_seed and the layer index, so fixed per layer and identical after
  save/load. A causal row does not depend on the sequence length, so cached decoding draws the same blocks.
"full" layers (layer_attention_pattern) attend densely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers.masking_utils import or_masks

LAYER_PATTERNS = ("full", "local")
# The values at which the config describes dense attention; native models (to_native) express only these.
SPARSE_DEFAULTS: dict[str, Any] = {
    "attention_window": None,
    "global_attention_positions": None,
    "random_attention_blocks": 0,
    "layer_attention_pattern": None,
}
_MODULUS = 2**31 - 1  # a prime: the hash below stays within int64 without overflow


def _non_negative_int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}={value!r} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")


def _list_of(name: str, value: Any, kind: type, describe: str) -> None:
    if not isinstance(value, (list, tuple)) or not value or \
            not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
        raise TypeError(f"{name}={value!r} must be None or a non-empty list of {describe}")


def is_sparse(config) -> bool:
    """Whether any layer of `config` attends through a sparse pattern."""
    return any(getattr(config, name, default) != default for name, default in SPARSE_DEFAULTS.items()
               if name != "layer_attention_pattern")


def validate_sparse_attention(config) -> None:
    """Refuse a wrong sparse-attention field, naming it, its value and what is allowed."""
    window, positions = config.attention_window, config.global_attention_positions
    if window is not None:
        _non_negative_int("attention_window", window, 1)
    if positions is not None:
        _list_of("global_attention_positions", positions, int, "distinct positions (integers >= 0)")
        if min(positions) < 0 or len(set(positions)) != len(positions):
            raise ValueError(f"global_attention_positions={positions!r} must hold distinct positions >= 0")
    _non_negative_int("random_attention_blocks", config.random_attention_blocks, 0)
    _non_negative_int("attention_block_size", config.attention_block_size, 1)
    _non_negative_int("random_attention_seed", config.random_attention_seed, 0)
    pattern = config.layer_attention_pattern
    if pattern is not None:
        _list_of("layer_attention_pattern", pattern, str, f"layer kinds {LAYER_PATTERNS}")
        for kind in pattern:
            if kind not in LAYER_PATTERNS:
                raise ValueError(f"layer_attention_pattern={pattern!r}: {kind!r} is not a layer kind; allowed: "
                                 f"{', '.join(map(repr, LAYER_PATTERNS))}")
        if not is_sparse(config):
            raise ValueError(f"layer_attention_pattern={pattern!r} chooses between dense and sparse layers, but no "
                             "pattern is set: set attention_window, global_attention_positions or "
                             "random_attention_blocks")
    if is_sparse(config) and getattr(config, "attention_type", "softmax") != "softmax":
        raise ValueError(
            f"attention_window/global_attention_positions/random_attention_blocks are patterns of a score matrix, "
            f"which attention_type={config.attention_type!r} does not build: use attention_type='softmax' with them"
        )
    if is_sparse(config) and config.sliding_window is not None:
        raise ValueError(
            f"attention_window/global_attention_positions/random_attention_blocks with sliding_window="
            f"{config.sliding_window}: sliding_window is Mistral's causal band (its KV cache may drop old keys); "
            "a sparse pattern needs every key. Use attention_window for the same band within a sparse pattern, "
            "or sliding_window=None"
        )


def pattern_key(config, layer_idx: int) -> int | None:
    """Which mask layer `layer_idx` uses: None for dense attention, else an int naming its sparse pattern (the
    layer index when random blocks make every layer's pattern its own, 0 when all sparse layers share one)."""
    if not is_sparse(config):
        return None
    kinds = config.layer_attention_pattern or ("local",)
    if kinds[layer_idx % len(kinds)] == "full":
        return None
    return layer_idx if config.random_attention_blocks else 0


def _hash(seed: int, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """A deterministic pseudo-random integer in [0, 2**31 - 1) per (seed, row, col), computed in int64."""
    x = torch.full(torch.broadcast_shapes(rows.shape, cols.shape), seed % _MODULUS, dtype=torch.int64)
    for value in (rows, cols):
        x = ((x ^ value) * 48271 + 12345) % _MODULUS
        x = ((x ^ (x >> 13)) * 16807) % _MODULUS
        x = x ^ (x >> 7)
    return x


def random_block_table(config, layer_idx: int, num_blocks: int, is_causal: bool) -> torch.Tensor:
    """[query block, key block] -> bool: the `random_attention_blocks` key blocks each query block sees (all
    blocks it may see when they are fewer), drawn without repetition from the config's seed and the layer."""
    rows, cols = torch.arange(num_blocks)[:, None], torch.arange(num_blocks)[None, :]
    seed = config.random_attention_seed * 1_000_003 + layer_idx * 7919 + 1
    eligible = cols <= rows if is_causal else torch.ones(num_blocks, num_blocks, dtype=torch.bool)
    score = (_hash(seed, rows, cols) * num_blocks + cols).masked_fill(~eligible, _MODULUS * num_blocks)
    chosen = score.topk(min(config.random_attention_blocks, num_blocks), dim=-1, largest=False).indices
    table = torch.zeros(num_blocks, num_blocks, dtype=torch.bool).scatter_(1, chosen, True)
    return table & eligible


def _lookup(table: torch.Tensor, index):
    """table[index] for a 1-d table, clamped so the padded indices flex may ask about stay inside the table."""
    return table[index.clamp(0, table.shape[0] - 1)]


def mask_function(config, key: int, is_causal: bool, key_length: int, device: torch.device) -> Callable:
    """The pattern of the sparse layers named `key` (see `pattern_key`) for keys at positions < `key_length`."""

    def diagonal(batch_idx, head_idx, q_idx, kv_idx):
        return q_idx == kv_idx

    parts = [diagonal]
    window = config.attention_window
    if window is not None:
        def band(batch_idx, head_idx, q_idx, kv_idx):
            distance = q_idx - kv_idx
            return (distance < window) & ((distance >= 0) if is_causal else (distance > -window))

        parts.append(band)
    if config.global_attention_positions:
        is_global = torch.zeros(key_length, dtype=torch.bool, device=device)
        positions = [p for p in config.global_attention_positions if p < key_length]
        is_global[positions] = True

        def global_tokens(batch_idx, head_idx, q_idx, kv_idx):
            return _lookup(is_global, q_idx) | _lookup(is_global, kv_idx)

        parts.append(global_tokens)
    if config.random_attention_blocks:
        size = config.attention_block_size
        num_blocks = -(-key_length // size)
        table = random_block_table(config, key, num_blocks, is_causal).to(device).flatten()

        def random_blocks(batch_idx, head_idx, q_idx, kv_idx):
            last = num_blocks - 1
            return _lookup(table, (q_idx // size).clamp(0, last) * num_blocks + (kv_idx // size).clamp(0, last))

        parts.append(random_blocks)
    return or_masks(*parts)
