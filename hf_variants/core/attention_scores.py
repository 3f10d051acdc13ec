"""How a query scores a key (`config.attention_score`), and the validation of the attention kinds of issue 15.

The score kinds, per head, with the names of the RNN baseline (families/rnn.py):

- "scaled_dot" (default): score(q, k) = q . k * head_dim ** -0.5 (Vaswani et al.).
- "dot" (Luong): score(q, k) = q . k, unscaled.
- "general" (Luong): score(q, k) = q . (W_a k), one W_a [head_dim, head_dim] per head. Folded into the query,
  (W_a^T q) . k, so every kernel (eager, sdpa, flex, flash, paged) runs it.
- "additive" (Bahdanau; Luong's "concat"): score(q, k) = v_a . tanh(W_a q + U_a k), one W_a, U_a [head_dim,
  head_dim] and v_a [head_dim] per head. No fused kernel computes it: it always runs on its own eager kernel
  (the masks are then built in eager form, as for `output_attentions`), at O(q * k * head_dim) memory per head.

`attention_scale`, when set, multiplies every kind's score; None means head_dim ** -0.5 for "scaled_dot" and 1.0
for the others (Luong and Bahdanau do not scale).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .linformer import validate_linformer

ATTENTION_SCORES = ("scaled_dot", "dot", "general", "additive")
# softmax (full) attention, Linformer (core/linformer.py), kernelised linear attention (core/linear_attention.py)
ATTENTION_TYPES = ("softmax", "linformer", "linear")
# Every native transformers model scores with scaled dot-product softmax attention: `to_native` requires these.
NATIVE_DEFAULTS = {"attention_score": "scaled_dot", "attention_type": "softmax"}


def softmax_attend(scores: torch.Tensor, value: torch.Tensor, dropout: float, training: bool,
                   dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The tail every score kind's eager kernel shares: softmax over the keys in float32 (cast to `dtype`),
    attention dropout, weights · v. Masked `scores` [batch, heads, q, k] -> (output [batch, q, heads, dim], weights)."""
    weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=training)
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def validate_attention_kind(config) -> None:
    """Types, values and combinations of `attention_score`, `attention_type` and `linformer_k` (ValueError/TypeError
    naming the field)."""
    for name, allowed in (("attention_score", ATTENTION_SCORES), ("attention_type", ATTENTION_TYPES)):
        value = getattr(config, name)
        if not isinstance(value, str):
            raise TypeError(f"{name}={value!r} must be a string, got {type(value).__name__}")
        if value not in allowed:
            raise ValueError(f"{name}={value!r} is not supported; allowed values: {', '.join(map(repr, allowed))}")
    validate_linformer(config)


def score_scaling(config, head_dim: int) -> float:
    """The factor every score is multiplied by: `attention_scale`, else head_dim ** -0.5 for "scaled_dot" only."""
    if config.attention_scale is not None:
        return config.attention_scale
    return head_dim**-0.5 if config.attention_score == "scaled_dot" else 1.0


def needs_eager(config) -> bool:
    """Whether this config's attention runs on the eager kernel whatever the configured backend (additive scores)."""
    return config.attention_score == "additive"


class GeneralScore(nn.Module):
    """Luong's bilinear score q . W_a k per head; `bilinear.weight` viewed as [heads, head_dim, head_dim] is W_a."""

    def __init__(self, num_heads: int, head_dim: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        self.bilinear = nn.Linear(head_dim, num_heads * head_dim, bias=False)

    def forward(self, query: torch.Tensor, interface: Callable) -> tuple[torch.Tensor, Callable]:
        """(query transformed so that query' . k = query . W_a k, the kernel unchanged)."""
        weight = self.bilinear.weight.view(self.num_heads, self.head_dim, self.head_dim)
        return torch.einsum("bhqd,hde->bhqe", query, weight.to(query.dtype)), interface


class AdditiveScore(nn.Module):
    """Bahdanau's score v_a . tanh(W_a q + U_a k) per head, with its own eager kernel.

    `query_proj.weight` / `key_proj.weight` viewed as [heads, head_dim, head_dim] are W_a / U_a (applied as W q),
    `v.weight` [heads, head_dim] is v_a.
    """

    def __init__(self, num_heads: int, head_dim: int):
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim
        self.query_proj = nn.Linear(head_dim, num_heads * head_dim, bias=False)
        self.key_proj = nn.Linear(head_dim, num_heads * head_dim, bias=False)
        self.v = nn.Linear(head_dim, num_heads, bias=False)

    def forward(self, query: torch.Tensor, interface: Callable) -> tuple[torch.Tensor, Callable]:
        """(query unchanged, this module's kernel in place of the configured one)."""
        return query, self.attention

    def _per_head(self, proj: nn.Linear, states: torch.Tensor) -> torch.Tensor:
        weight = proj.weight.view(self.num_heads, self.head_dim, self.head_dim).to(states.dtype)
        return torch.einsum("bhsd,hed->bhse", states, weight)

    def attention(
        self,
        module: nn.Module,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        scaling: float,
        dropout: float = 0.0,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """softmax(v_a . tanh(W_a q + U_a k) * scaling + mask) v, softmax in float32 (the eager kernel's contract)."""
        groups = query.shape[1] // key.shape[1]  # GQA/MQA: query head h reads key/value head h // groups
        key, value = key.repeat_interleave(groups, dim=1), value.repeat_interleave(groups, dim=1)
        hidden = torch.tanh(self._per_head(self.query_proj, query)[:, :, :, None]
                            + self._per_head(self.key_proj, key)[:, :, None])
        scores = torch.einsum("bhqke,he->bhqk", hidden, self.v.weight.to(hidden.dtype)) * scaling
        if attention_mask is not None:  # boolean (True = attend) when built for sdpa, else additive
            attention_mask = attention_mask[:, :, :, : key.shape[-2]]
            scores = (scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
                      if attention_mask.dtype == torch.bool else scores + attention_mask)
        return softmax_attend(scores, value, dropout, module.training, query.dtype)


def build_score(config, num_heads: int, head_dim: int) -> nn.Module | None:
    """The learned part of `config.attention_score`; None for the parameter-free "scaled_dot" and "dot"."""
    if config.attention_score == "general":
        return GeneralScore(num_heads, head_dim)
    if config.attention_score == "additive":
        return AdditiveScore(num_heads, head_dim)
    return None
