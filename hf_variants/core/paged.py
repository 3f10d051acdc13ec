"""Paged attention: our layers on transformers' continuous-batching cache (`PagedAttentionCache`).

Continuous batching packs every scheduled request into one row ([1, total_tokens]) and passes the paged cache, a
ready-made block-diagonal 4-D mask (one per layer type for hybrid models), position ids and the read/write indices
of the cache pages as forward keywords. Our attention writes/reads the pages itself, the same way on every supported
release (5.23 let the kernel do it, 5.24 the model), and the stack uses the given mask as is.
"""

from __future__ import annotations

import torch

from .compat import PagedAttentionCache
from .sparse import is_sparse

# The cache allocator transformers picks per layer type (see `group_layers_by_attn_type`).
FULL_ATTENTION, SLIDING_ATTENTION = "full_attention", "sliding_attention"


def is_paged(cache) -> bool:
    """True for transformers' continuous-batching cache."""
    return isinstance(cache, PagedAttentionCache)


def past_length(cache) -> int:
    """Tokens already in a regular cache; 0 for the paged cache (its requests bring their own position ids)."""
    if cache is None or is_paged(cache):
        return 0
    return cache.get_seq_length()


def layer_mask(config, attention_mask):
    """The mask continuous batching built for our layers' attention type (it passes a dict for hybrid models)."""
    if isinstance(attention_mask, dict):
        return attention_mask[SLIDING_ATTENTION if config.sliding_window else FULL_ATTENTION]
    return attention_mask


def key_positions(cu_seq_lens_k: torch.Tensor) -> torch.Tensor:
    """Position of every packed key: each request's keys are its tokens 0..n-1 (full-attention pages)."""
    lengths = cu_seq_lens_k[1:] - cu_seq_lens_k[:-1]
    starts = torch.repeat_interleave(cu_seq_lens_k[:-1], lengths)
    return torch.arange(int(cu_seq_lens_k[-1]), device=cu_seq_lens_k.device) - starts


def check_support(config) -> None:
    """Refuse, naming the element, what the paged cache cannot serve: a position bias needs every key's position,
    which a sliding-window page (a ring of the last tokens) does not keep in order."""
    if config.position_embedding_type in ("alibi", "relative_bias") and config.sliding_window:
        raise ValueError(
            f"continuous batching (paged attention) does not support position_embedding_type="
            f"{config.position_embedding_type!r} with sliding_window={config.sliding_window}: the sliding pages do not "
            "keep key positions; use generate() or sliding_window=None"
        )
    if is_sparse(config):
        raise ValueError("continuous batching (paged attention) does not support sparse attention patterns "
                         "(attention_window, global_attention_positions, random_attention_blocks): use generate()")


def update(cache, key: torch.Tensor, value: torch.Tensor, layer_idx: int, kwargs: dict):
    """Write this step's keys/values into the pages and return every key/value the packed queries attend to.
    `kwargs` (the paged forward keywords) is updated in place by the cache, as transformers' kernels expect."""
    return cache.update(key, value, layer_idx, kwargs)
