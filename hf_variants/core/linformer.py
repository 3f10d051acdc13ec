"""Linformer (Wang et al., 2020): keys and values projected along the sequence to `linformer_k` rows.

head_i = softmax(Q W_i^Q (E X W_i^K)^T * scaling) (F X W_i^V), with X the layer's input [n, hidden] and E, F
[linformer_k, n]: attention costs O(n * k) instead of O(n^2). As in the paper's headwise sharing and fairseq's
implementation (`examples/linformer`, `compress_k`/`compress_v`), one E and one F per layer serve every head, are
applied to the layer input before the key/value projections (so the projections' bias is added once per compressed
row), and are sized by the longest sequence, here `max_position_embeddings`; a shorter sequence of n tokens uses
their first n columns (fairseq slices `weight[:, :n]` the same way). Longer sequences are refused.

Padding: padded tokens are zeroed in X before the projection, so they contribute nothing to any compressed
key/value, and a right-padded row equals the same tokens unpadded. After the projection no key is a token any
more: the k compressed keys are all attended to, and the mask has no further role (an all-padding row attends to
the projections' bias alone).

Bidirectional only: every compressed row mixes the whole sequence, future tokens included, so causal attention,
KV caches and generation cannot use it (refused for decoders and encoder-decoders). Position biases (ALiBi, T5)
and RoPE act between individual query and key positions, which compressed keys no longer have: refused too.
"""

from __future__ import annotations

import torch
from torch import nn

POSITION_TYPES_WITHOUT_KEYS = ("rope", "alibi", "relative_bias")


def _is_decoder_config(config) -> bool:
    """Decoder-family configs (and their variants) subclass `DecoderConfig` (families/decoder.py)."""
    return any(cls.__name__ == "DecoderConfig" for cls in type(config).__mro__)


def validate_linformer(config) -> None:
    """`linformer_k` (type, range, needed exactly with attention_type='linformer') and the families and
    positions Linformer cannot serve."""
    value = config.linformer_k
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"linformer_k={value!r} must be an integer or None, got {type(value).__name__}")
    if config.attention_type != "linformer":
        if value is not None:
            raise ValueError(f"linformer_k={value!r} only applies to attention_type='linformer', not "
                             f"{config.attention_type!r}; leave it None")
        return
    if value is None or not 1 <= value <= config.max_position_embeddings:
        raise ValueError(f"attention_type='linformer' needs linformer_k, the projected key/value length: an integer "
                         f"in [1, max_position_embeddings={config.max_position_embeddings}], got {value!r}")
    if config.is_encoder_decoder or _is_decoder_config(config):
        family = "an encoder-decoder (its decoder attends causally)" if config.is_encoder_decoder else "a decoder"
        raise ValueError(f"attention_type='linformer' is bidirectional only, and this is {family}: each projected "
                         "key mixes the whole sequence, future tokens included, so causal attention and the KV "
                         "cache of generation cannot use it; use it in an encoder")
    if config.position_embedding_type in POSITION_TYPES_WITHOUT_KEYS:
        raise ValueError(f"attention_type='linformer' does not support position_embedding_type="
                         f"{config.position_embedding_type!r}: it acts between query and key positions, and projected "
                         "keys have none; use 'learned', 'sinusoidal' or 'none'")


def key_padding(attention_mask: torch.Tensor | None, hidden_states: torch.Tensor) -> torch.Tensor | None:
    """The [batch, seq] padding mask (True = real token) Linformer zeroes padding with; None = no padding."""
    if attention_mask is None:
        return None
    if attention_mask.shape != hidden_states.shape[:2]:
        raise ValueError(f"attention_type='linformer' takes a [batch, seq] = {list(hidden_states.shape[:2])} padding "
                         f"attention_mask, got shape {list(attention_mask.shape)}")
    return attention_mask.bool()


class LinformerProjection(nn.Module):
    """E (`key_compress.weight`) and F (`value_compress.weight`), each [linformer_k, max_position_embeddings]."""

    def __init__(self, config):
        super().__init__()
        self.max_length = config.max_position_embeddings
        self.key_compress = nn.Linear(config.max_position_embeddings, config.linformer_k, bias=False)
        self.value_compress = nn.Linear(config.max_position_embeddings, config.linformer_k, bias=False)

    def forward(self, hidden_states: torch.Tensor, padding: torch.Tensor | None,
                cache=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(E X, F X), each [batch, linformer_k, hidden], from the layer input X with its padded rows zeroed."""
        if cache is not None:
            raise ValueError("attention_type='linformer' cannot use a KV cache: each projected key mixes the whole "
                             "sequence, so a cached one cannot be extended by new tokens")
        length = hidden_states.shape[1]
        if length > self.max_length:
            raise ValueError(f"attention_type='linformer' projects at most max_position_embeddings={self.max_length} "
                             f"tokens (E and F are sized by it), got a sequence of {length}")
        if padding is not None:
            hidden_states = hidden_states.masked_fill(~padding[..., None], 0.0)
        compress = (proj.weight[:, :length].to(hidden_states.dtype) for proj in (self.key_compress,
                                                                                  self.value_compress))
        return tuple(torch.einsum("kn,bnh->bkh", weight, hidden_states) for weight in compress)
