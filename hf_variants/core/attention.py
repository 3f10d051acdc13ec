"""Multi-head attention (MHA / GQA / MQA), self or cross, on transformers' attention interface.

The scoring kernel comes from `ALL_ATTENTION_FUNCTIONS` (eager, sdpa, flex, flash, or any registered backend) as
chosen by core/backends.py; this module only projects, applies RoPE, talks to the KV cache and projects back.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .attention_scores import build_score, score_scaling, softmax_attend
from .backends import PAGED_EAGER
from .compat import ALL_ATTENTION_FUNCTIONS, Cache, EncoderDecoderCache, PagedAttentionCache
from .linear_attention import build_feature_map, linear_attention
from .linformer import LinformerProjection
from .masks import additive
from .paged import update as paged_update
from .positions import apply_rotary
from .relative_xl import RelativeXLAttention


def repeat_kv(hidden_states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """[batch, kv_heads, seq, dim] -> [batch, kv_heads * n_rep, seq, dim] (GQA/MQA for the eager path)."""
    if n_rep == 1:
        return hidden_states
    batch, kv_heads, seq, dim = hidden_states.shape
    return hidden_states[:, :, None].expand(batch, kv_heads, n_rep, seq, dim).reshape(batch, kv_heads * n_rep, seq, dim)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference attention: softmax(q k^T * scaling + mask) v, softmax in float32."""
    key = repeat_kv(key, module.num_key_value_groups)
    value = repeat_kv(value, module.num_key_value_groups)
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask[:, :, :, : key.shape[-2]]
    return softmax_attend(scores, value, dropout, module.training, query.dtype)


def qkv_sizes(config) -> tuple[int, int, int]:
    """Output widths of the query, key and value projections; fused (`qkv_layout="fused"`), consecutive rows of
    `qkv_proj` in this order."""
    head_dim = config.resolved_head_dim
    kv_width = config.num_key_value_heads * head_dim
    return config.num_attention_heads * head_dim, kv_width, kv_width


class Attention(nn.Module):
    """Self- or cross-attention with `num_key_value_heads` shared key/value heads.

    `layer_idx` indexes the KV cache; with ALBERT-style sharing one module serves several layers, so the stack
    passes the logical layer index at call time.
    """

    def __init__(self, config, layer_idx: int, is_causal: bool, is_cross_attention: bool = False):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.is_causal = is_causal and not is_cross_attention
        self.is_cross_attention = is_cross_attention
        self.head_dim = config.resolved_head_dim
        self.num_heads = config.num_attention_heads
        self.num_key_value_heads = config.num_key_value_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        self.scaling = score_scaling(config, self.head_dim)
        self.attention_dropout = config.attention_probs_dropout_prob
        self.sliding_window = config.sliding_window if self.is_causal else None
        hidden, bias = config.hidden_size, config.attention_bias
        self.qkv_heads = (self.num_heads, self.num_key_value_heads, self.num_key_value_heads)
        self.qkv_sizes = qkv_sizes(config)
        self.fused_qkv = config.qkv_layout == "fused" and not is_cross_attention
        if self.fused_qkv:
            self.qkv_proj = nn.Linear(hidden, sum(self.qkv_sizes), bias=bias)
        else:
            self.q_proj = nn.Linear(hidden, self.qkv_sizes[0], bias=bias)
            self.k_proj = nn.Linear(hidden, self.qkv_sizes[1], bias=bias)
            self.v_proj = nn.Linear(hidden, self.qkv_sizes[2], bias=bias)
        self.o_proj = nn.Linear(self.num_heads * self.head_dim, hidden, bias=bias)
        # attention kinds (issue 15): the learned part of the score, Linformer's projections along the sequence
        self.score = build_score(config, self.num_heads, self.head_dim)
        linformer = config.attention_type == "linformer" and not self.is_causal and not is_cross_attention
        self.linformer = LinformerProjection(config) if linformer else None
        linear = config.attention_type == "linear" and not is_cross_attention  # core/linear_attention.py
        self.feature_map = build_feature_map(config, layer_idx) if linear else None
        relative_xl = config.position_embedding_type == "relative_xl" and not is_cross_attention
        self.relative_xl = RelativeXLAttention(config) if relative_xl else None

    def _project(self, proj: nn.Linear, states: torch.Tensor) -> torch.Tensor:
        return proj(states).view(*states.shape[:-1], -1, self.head_dim).transpose(1, 2)

    def _project_fused(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of `states` from `qkv_proj` in one matmul: views of [batch, heads + 2 * kv_heads,
        seq, dim]. (Written out rather than through `_project`: it runs per layer and generated token.)"""
        heads = self.qkv_proj(states).view(*states.shape[:-1], -1, self.head_dim).transpose(1, 2)
        return heads.split(self.qkv_heads, dim=1)

    def _cross_key_values(self, key_value_states, cache, layer_idx):
        """Encoder keys/values, computed once per generation and then read from the cross-attention cache."""
        cache = cache if isinstance(cache, EncoderDecoderCache) else None
        if cache is not None and cache.is_updated.get(layer_idx):
            layer = cache.cross_attention_cache.layers[layer_idx]
            return layer.keys, layer.values
        key, value = self._project(self.k_proj, key_value_states), self._project(self.v_proj, key_value_states)
        if cache is not None:
            key, value = cache.cross_attention_cache.update(key, value, layer_idx)
            cache.is_updated[layer_idx] = True
        return key, value

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: Cache | None = None,
        key_value_states: torch.Tensor | None = None,
        layer_idx: int | None = None,
        attn_implementation: str | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(output, attention weights or None): the weights are recorded from here by the model's output capturing;
        only the eager kernel materialises them, and the stack picks it when they are recorded."""
        layer_idx = self.layer_idx if layer_idx is None else layer_idx
        if self.relative_xl is not None:  # Transformer-XL's score and memory: its own kernel (core/relative_xl.py)
            return self.relative_xl(self, hidden_states, attention_mask, cache, layer_idx, kwargs.get("xl_memory"))
        if self.fused_qkv:
            query, key, value = self._project_fused(hidden_states)
        else:  # (written out as native attention does, not through `_project`: this runs per layer and token)
            head_shape = (*hidden_states.shape[:-1], -1, self.head_dim)
            query = self.q_proj(hidden_states).view(head_shape).transpose(1, 2)
        if self.is_cross_attention:
            key, value = self._cross_key_values(key_value_states, cache, layer_idx)
        elif self.linformer is not None:  # keys/values projected along the sequence; the mask is [batch, seq] padding
            key_states, value_states = self.linformer(hidden_states, attention_mask, cache)
            key, value = self._project(self.k_proj, key_states), self._project(self.v_proj, value_states)
            attention_mask = None
        else:
            if not self.fused_qkv:
                key = self.k_proj(hidden_states).view(head_shape).transpose(1, 2)
                value = self.v_proj(hidden_states).view(head_shape).transpose(1, 2)
            if position_embeddings is not None:
                query, key = apply_rotary(query, key, *position_embeddings)
            if self.feature_map is not None:  # linear attention: a recurrent state instead of keys/values
                output = linear_attention(self, query, key, value, attention_mask, cache, layer_idx)
                return self.o_proj(output.reshape(*hidden_states.shape[:-1], -1)), None
            if isinstance(cache, PagedAttentionCache):  # continuous batching: the pages take this step's keys/values
                key, value = paged_update(cache, key, value, layer_idx, kwargs)
            elif cache is not None:
                if isinstance(cache, EncoderDecoderCache):
                    cache = cache.self_attention_cache
                key, value = cache.update(key, value, layer_idx)

        # The kernel: the stack's (eager when weights are recorded: only it materialises them), or eager for the
        # paged eager kernel (the pages are read here; continuous batching's mask is additive)
        implementation = attn_implementation or self.config._attn_implementation
        if implementation == PAGED_EAGER:
            implementation = "eager"
        if implementation == "eager":  # a mask built for sdpa (True = attend) must become additive here
            attention_mask = additive(attention_mask, query.dtype)
        interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        if self.score is not None:  # Luong's general score transforms the query; Bahdanau's brings its own kernel
            query, interface = self.score(query, interface)
        output, weights = interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            sliding_window=self.sliding_window,
            **kwargs,
        )
        output = self.o_proj(output.reshape(*hidden_states.shape[:-1], -1).contiguous())
        return output, weights
