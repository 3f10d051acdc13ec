"""Where position information enters: absolute ids and tables, rotary embeddings and additive attention biases.

Absolute positions (learned, sinusoidal) are added to the token embeddings (see `embeddings.py`); RoPE rotates
queries and keys inside attention; ALiBi and T5's bucketed relative bias are per-head additive biases that the
stack folds into the attention mask, so every attention backend that takes a float mask supports them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .compat import ROPE_INIT_FUNCTIONS, dynamic_rope_update

# ------------------------------------------------------------------------------------------------ absolute


def absolute_position_ids(
    config, input_ids: torch.Tensor | None, seq_length: int, past_length: int, device: torch.device
) -> torch.Tensor:
    """Position ids for absolute embeddings, shape [batch or 1, seq].

    `pad_aware_positions` (RoBERTa) counts only non-padding tokens, starting at pad_token_id + 1, and gives padding
    the id pad_token_id, exactly as the native model does; otherwise ids are consecutive from `past_length`.
    """
    if config.pad_aware_positions and input_ids is not None:
        not_pad = input_ids.ne(config.pad_token_id).int()
        incremental = (torch.cumsum(not_pad, dim=1) + past_length) * not_pad
        return incremental.long() + config.pad_token_id + config.position_offset
    start = past_length + config.position_offset + (config.pad_token_id + 1 if config.pad_aware_positions else 0)
    return torch.arange(start, start + seq_length, device=device).unsqueeze(0)


def sinusoidal_table(num_positions: int, dim: int) -> torch.Tensor:
    """The fixed table of "Attention Is All You Need" §3.5: sin on even features, cos on odd ones."""
    position = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * inv_freq)
    table[:, 1::2] = torch.cos(position * inv_freq[: dim // 2])
    return table


class SinusoidalPositionEmbedding(nn.Module):
    """Non-trainable sinusoidal positions, looked up like an embedding (not saved in checkpoints)."""

    def __init__(self, num_positions: int, dim: int):
        super().__init__()
        self.num_positions, self.dim = num_positions, dim
        self.table = nn.Buffer(sinusoidal_table(num_positions, dim), persistent=False)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return self.table[position_ids]


# ------------------------------------------------------------------------------------------------ rotary


class RotaryEmbedding(nn.Module):
    """cos/sin tables for RoPE; any `rope_parameters["rope_type"]` of transformers' ROPE_INIT_FUNCTIONS works.

    The attribute names (`inv_freq`, `original_inv_freq`, `rope_type`, `config`) follow transformers' convention so
    its weight initialisation and dynamic-RoPE update recognise this module.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.max_seq_len_cached = config.max_position_embeddings
        self.original_max_seq_len = config.max_position_embeddings
        self.rope_type = config.rope_parameters.get("rope_type", "default")
        init_fn = self.compute_default_rope_parameters if self.rope_type == "default" else ROPE_INIT_FUNCTIONS[
            self.rope_type]
        inv_freq, self.attention_scaling = init_fn(config)
        self.inv_freq = nn.Buffer(inv_freq, persistent=False)
        self.original_inv_freq = nn.Buffer(inv_freq.clone(), persistent=False)

    @staticmethod
    def compute_default_rope_parameters(config, **kwargs) -> tuple[torch.Tensor, float]:
        base = config.rope_parameters["rope_theta"]
        dim = int(config.resolved_head_dim * config.rope_parameters.get("partial_rotary_factor", 1.0))
        return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)), 1.0

    @dynamic_rope_update  # no torch.no_grad(): nothing here requires grad, and the context costs per token
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids[..., None].float() * self.inv_freq.to(device=x.device, dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * self.attention_scaling).to(x.dtype), (emb.sin() * self.attention_scaling).to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate [batch, heads, seq, head_dim] queries/keys; a partial rotary dim rotates the leading features only."""
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    rot = cos.shape[-1]
    if rot == query.shape[-1]:  # full rotary (LLaMA, Mistral): no slicing and re-concatenation copies
        return (query * cos) + (_rotate_half(query) * sin), (key * cos) + (_rotate_half(key) * sin)
    return _rotate_leading(query, cos, sin, rot), _rotate_leading(key, cos, sin, rot)


def _rotate_leading(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rot: int) -> torch.Tensor:
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    return torch.cat(((x_rot * cos) + (_rotate_half(x_rot) * sin), x_pass), dim=-1)


# ------------------------------------------------------------------------------------------------ biases


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """Head slopes of ALiBi (Press et al. 2022): a geometric sequence; for a head count that is not a power of two,
    the slopes of the nearest lower power of two plus every other slope of the next one."""
    closest = 2 ** math.floor(math.log2(num_heads))
    base = 2.0 ** (-8.0 / closest)
    slopes = [base ** (i + 1) for i in range(closest)]
    if closest != num_heads:
        extra_base = 2.0 ** (-4.0 / closest)
        slopes += [extra_base ** (2 * i + 1) for i in range(num_heads - closest)]
    return torch.tensor(slopes, dtype=torch.float32)


class AlibiBias(nn.Module):
    """-slope_h * |i - j| for query position i and key position j (symmetric, so it also serves encoders)."""

    def __init__(self, config):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.slopes = nn.Buffer(alibi_slopes(self.num_heads), persistent=False)

    def forward(self, query_positions: torch.Tensor, key_length: int, key_offset: int = 0) -> torch.Tensor:
        key_positions = torch.arange(key_offset, key_offset + key_length, device=query_positions.device)
        return self.between(query_positions, key_positions)

    def between(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """[1, heads, q, k] bias for any query and key positions (continuous batching packs several requests)."""
        distance = (query_positions[:, None] - key_positions[None, :]).abs().float()
        return (-self.slopes.to(distance.device)[:, None, None] * distance).unsqueeze(0)


def relative_position_bucket(
    relative_position: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """T5's bucketing (Raffel et al. 2020): exact buckets for small distances, log-spaced ones up to max_distance;
    bidirectional attention spends half the buckets on each direction."""
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative_position > 0).long() * num_buckets
        relative_position = relative_position.abs()
    else:
        relative_position = -torch.clamp(relative_position, max=0)
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    log_ratio = torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact)
    if_large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    if_large = torch.clamp(if_large, max=num_buckets - 1)
    return buckets + torch.where(is_small, relative_position, if_large)


class RelativePositionBias(nn.Module):
    """Learned per-head bias per relative-distance bucket, computed once per forward and shared by all layers."""

    def __init__(self, config, bidirectional: bool):
        super().__init__()
        self.bidirectional = bidirectional
        self.num_buckets = config.relative_attention_num_buckets
        self.max_distance = config.relative_attention_max_distance
        self.relative_attention_bias = nn.Embedding(self.num_buckets, config.num_attention_heads)

    def forward(self, query_positions: torch.Tensor, key_length: int, key_offset: int = 0) -> torch.Tensor:
        key_positions = torch.arange(key_offset, key_offset + key_length, device=query_positions.device)
        return self.between(query_positions, key_positions)

    def between(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """[1, heads, q, k] bias for any query and key positions (continuous batching packs several requests)."""
        relative = key_positions[None, :] - query_positions[:, None]
        buckets = relative_position_bucket(relative, self.bidirectional, self.num_buckets, self.max_distance)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)


def build_position_bias(config, bidirectional: bool) -> nn.Module | None:
    """The additive-bias module for bias-style positions, or None."""
    if config.position_embedding_type == "alibi":
        return AlibiBias(config)
    if config.position_embedding_type == "relative_bias":
        return RelativePositionBias(config, bidirectional=bidirectional)
    return None
