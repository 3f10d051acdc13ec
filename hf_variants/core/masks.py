"""Builds attention masks (and only builds them): transformers' masking utilities, plus the additive position
biases (ALiBi, T5) and the sparse patterns of core/sparse.py.

transformers returns whatever the backend wants (None, bool, float or a flex BlockMask). Bias-style positions need
a float tensor with one bias per head, so with a bias the mask is built in eager form; which kernel runs (and so
which form is asked for) is decided by core/backends.py.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from .compat import (
    EncoderDecoderCache,
    create_bidirectional_mask,
    create_causal_mask,
    create_sliding_window_causal_mask,
)


def _view(config, backend: str | None):
    """`config`, or a shallow copy whose attention backend is `backend`, to ask transformers for that mask form."""
    if backend is None or backend == config._attn_implementation:
        return config
    view = copy.copy(config)
    view._attn_implementation = backend
    return view


def additive(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """A boolean mask (True = attend) as an additive float mask; other masks unchanged."""
    if mask is None or not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)


def self_attention_mask(
    config,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    is_causal: bool,
    cache=None,
    position_ids: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    backend: str | None = None,
    and_mask_function: Callable | None = None,
):
    """Mask for self-attention in the form `backend` (default: the config's) takes; with `bias` ([1, heads, q, k])
    the result is a float mask with the bias added. `and_mask_function` (a sparse pattern, core/sparse.py) is
    intersected with the causal or bidirectional mask by transformers, so a flex BlockMask skips its empty blocks."""
    mask_config = _view(config, "eager" if bias is not None else backend)
    pattern = {} if and_mask_function is None else {"and_mask_function": and_mask_function}
    if not is_causal:
        kwargs = {} if bias is None else {"allow_is_bidirectional_skip": False}
        mask = create_bidirectional_mask(mask_config, inputs_embeds, attention_mask, **kwargs, **pattern)
    else:
        builder = create_sliding_window_causal_mask if config.sliding_window else create_causal_mask
        kwargs = dict(pattern) if bias is None else {"allow_is_causal_skip": False, **pattern}
        if isinstance(cache, EncoderDecoderCache):
            cache = cache.self_attention_cache
        mask = builder(mask_config, inputs_embeds, attention_mask, cache, position_ids=position_ids,
                       **kwargs)
    if bias is None:
        return additive(mask, inputs_embeds.dtype) if backend == "eager" else mask
    if mask is None:
        return bias.to(inputs_embeds.dtype)
    dtype = inputs_embeds.dtype
    # a boolean mask may come ready-made from `generate` (static cache): True = attend
    return additive(mask, dtype).to(dtype) + bias.to(dtype)


def cross_attention_mask(config, inputs_embeds, encoder_hidden_states, encoder_attention_mask,
                         backend: str | None = None):
    """Mask hiding padded encoder positions from the decoder, in the form `backend` (default: the config's) takes."""
    mask = create_bidirectional_mask(
        _view(config, backend), inputs_embeds, encoder_attention_mask, encoder_hidden_states=encoder_hidden_states
    )
    return additive(mask, inputs_embeds.dtype) if backend == "eager" else mask
