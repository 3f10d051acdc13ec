"""Attention masks from transformers' masking utilities, plus the additive position biases (ALiBi, T5).

transformers returns whatever the configured backend wants (None, bool, float or a flex BlockMask). Bias-style
positions need a float tensor with one bias per head, which only the eager and sdpa kernels take, so with a bias
the mask is built in eager form and flex/flash calls are served by sdpa (see `bias_attention_backend`).
"""

from __future__ import annotations

import copy

import torch
from transformers.masking_utils import (
    create_bidirectional_mask,
    create_causal_mask,
    create_sliding_window_causal_mask,
)


def _eager_view(config):
    """A shallow copy of `config` whose attention backend is eager, to ask transformers for a float mask."""
    view = copy.copy(config)
    view._attn_implementation = "eager"
    return view


def bias_attention_backend(config) -> str:
    """The backend used when an additive per-head bias is in the mask."""
    return config._attn_implementation if config._attn_implementation in ("eager", "sdpa") else "sdpa"


def self_attention_mask(
    config,
    inputs_embeds: torch.Tensor,
    attention_mask: torch.Tensor | None,
    is_causal: bool,
    past_key_values=None,
    position_ids: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
):
    """Mask for self-attention; with `bias` ([1, heads, q, k]) the result is a float mask with the bias added."""
    mask_config = config if bias is None else _eager_view(config)
    if not is_causal:
        kwargs = {} if bias is None else {"allow_is_bidirectional_skip": False}
        mask = create_bidirectional_mask(mask_config, inputs_embeds, attention_mask, **kwargs)
    else:
        builder = create_sliding_window_causal_mask if config.sliding_window else create_causal_mask
        kwargs = {} if bias is None else {"allow_is_causal_skip": False}
        if getattr(past_key_values, "self_attention_cache", None) is not None:
            past_key_values = past_key_values.self_attention_cache
        mask = builder(mask_config, inputs_embeds, attention_mask, past_key_values, position_ids=position_ids,
                       **kwargs)
    if bias is None:
        return mask
    if mask is None:
        return bias.to(inputs_embeds.dtype)
    dtype = inputs_embeds.dtype
    if mask.dtype == torch.bool:  # a mask prepared by `generate` for a static cache: True = attend
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, torch.finfo(dtype).min)
    return mask.to(dtype) + bias.to(dtype)


def cross_attention_mask(config, inputs_embeds, encoder_hidden_states, encoder_attention_mask,
                         backend: str | None = None):
    """Mask hiding padded encoder positions from the decoder, in the form `backend` (default: the config's) takes."""
    if backend is not None and backend != config._attn_implementation:
        config = copy.copy(config)
        config._attn_implementation = backend
    return create_bidirectional_mask(
        config, inputs_embeds, encoder_attention_mask, encoder_hidden_states=encoder_hidden_states
    )
