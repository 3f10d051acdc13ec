"""Transformer-XL (Dai et al. 2019): sinusoidal relative positions with learned u/v biases, and segment recurrence.

`position_embedding_type="relative_xl"` scores query i against key j as

    score(i, j) = q_i·k_j + q_i·W_R R_{i-j} + u·k_j + v·W_R R_{i-j}        (times the attention scale)

with R the sinusoidal table (sin and cos halves concatenated, as Transformer-XL's `PositionalEmbedding`), W_R a
per-layer projection (`r_net`) and u, v per-layer, per-head biases (`r_w_bias`, `r_r_bias`, Transformer-XL's
untied biases). The (q + v)·W_R R term is computed once per relative distance and moved into place with the paper's
relative shift (`rel_shift`). No absolute positions are added to the embeddings.

`memory_length` > 0 adds segment-level recurrence: each layer keeps the last `memory_length` inputs of its
self-attention (the normed layer input for pre-norm, as Transformer-XL's pre-LN layers) of the previous segments,
detached from the graph, and attends to them before the current segment. The model takes them as `memory` and
returns the updated ones as `memory`, like Transformer-XL's `mems`. Memory positions are always attended (there is
no padding mask for them). With memory_length >= the first segment's length, two segments with memory equal one
forward over their concatenation restricted to the second segment's positions.

Memory and the KV cache: the KV cache already keeps every earlier token's keys/values, so a forward with `memory`
runs without a cache (`use_cache` left None means off; `use_cache=True` with `memory` is refused) and `generate()`
with relative_xl uses the ordinary (dynamic) KV cache, not memory. Static caches and continuous batching are refused:
the relative shift needs the queries to be the last keys.

Kernel rule: the relative term depends on the query, so it cannot be an additive mask; this module always runs its
own eager-style kernel (masks are built in eager form, see `backends.forced_backend`), whatever `attn_implementation`
says. Other attention kinds (linear, Linformer, other scores) are refused in combination.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import initialization as init

from .attention_scores import softmax_attend

RELATIVE_XL = "relative_xl"


# ------------------------------------------------------------------------------------------------ validation


def validate(config) -> None:
    """Refuse Transformer-XL settings that cannot be built (called from `HfvConfig.validate_elements`)."""
    length = getattr(config, "memory_length", 0)
    if not isinstance(length, int) or isinstance(length, bool):
        raise TypeError(f"memory_length={length!r} must be an integer >= 0, got {type(length).__name__}")
    if length < 0:
        raise ValueError(f"memory_length={length!r} must be an integer >= 0 (0 = no segment recurrence)")
    relative = config.position_embedding_type == RELATIVE_XL
    if length and not relative:
        raise ValueError(
            f"memory_length={length} needs position_embedding_type='relative_xl' (got "
            f"{config.position_embedding_type!r}): remembered states have no absolute position to carry"
        )
    if not relative:
        return
    if getattr(config, "is_encoder_decoder", False) or not getattr(config, "supports_relative_xl", False):
        raise ValueError(
            f"position_embedding_type='relative_xl' is for decoder-only models (causal attention with segment "
            f"recurrence); {type(config).__name__} (model_type={config.model_type!r}) is not one"
        )
    for field, default in (("attention_type", "softmax"), ("attention_score", "scaled_dot")):
        value = getattr(config, field, default)
        if value != default:
            raise ValueError(
                f"position_embedding_type='relative_xl' runs its own softmax kernel with Transformer-XL's score: "
                f"{field}={value!r} cannot be combined with it (allowed: {default!r})"
            )
    if length and any(getattr(config, name, None) for name in ("attention_window", "global_attention_positions",
                                                                 "random_attention_blocks")):
        raise ValueError(
            f"memory_length={length} with a sparse attention pattern: memory is always attended, so the pattern "
            "would not hold; use one of them"
        )
    if length and config.sliding_window:
        raise ValueError(
            f"memory_length={length} with sliding_window={config.sliding_window}: memory is always attended, so the "
            "window would not hold; use one of them (sliding_window alone works with relative_xl)"
        )
    if config.hidden_size % 2:
        raise ValueError(f"position_embedding_type='relative_xl' needs an even hidden_size for its sin/cos table, "
                         f"got hidden_size={config.hidden_size}")


def use_cache_with_memory(config, memory, use_cache: bool | None, cache) -> bool | None:
    """The `use_cache` a forward runs with: `memory` and the KV cache exclude each other (module docstring)."""
    if memory is None:
        return use_cache
    if not getattr(config, "memory_length", 0):
        raise ValueError("memory was passed but config.memory_length=0: set memory_length > 0 "
                         "(with position_embedding_type='relative_xl') to use segment recurrence")
    if use_cache or cache is not None:
        raise ValueError(
            "memory (Transformer-XL segment recurrence) and a KV cache exclude each other: the cache already holds "
            "every earlier token. Pass use_cache=False (and no cache) with memory, or generate without memory"
        )
    return False


# ------------------------------------------------------------------------------------------------ memory


class SegmentMemory:
    """Per-forward carrier of the memory: what each layer reads, and the new memory each layer writes."""

    def __init__(self, config, memory: list[torch.Tensor] | tuple[torch.Tensor, ...] | None, num_layers: int):
        self.length = config.memory_length
        if memory is not None:
            if not isinstance(memory, (list, tuple)) or len(memory) != num_layers:
                raise ValueError(f"memory must be a list of {num_layers} tensors (one per layer, as returned in "
                                 f"outputs.memory), got {type(memory).__name__} of length "
                                 f"{len(memory) if isinstance(memory, (list, tuple)) else '-'}")
            for layer, states in enumerate(memory):
                if not isinstance(states, torch.Tensor) or states.ndim != 3 or states.shape[-1] != config.hidden_size:
                    raise ValueError(f"memory[{layer}] must be a [batch, length, hidden_size={config.hidden_size}] "
                                     f"tensor, got {getattr(states, 'shape', type(states).__name__)}")
        self.previous = memory
        self.new: list[torch.Tensor | None] = [None] * num_layers

    def read(self, layer_idx: int, batch_size: int) -> torch.Tensor | None:
        if self.previous is None:
            return None
        states = self.previous[layer_idx].detach()
        if states.shape[0] != batch_size:
            raise ValueError(f"memory[{layer_idx}] has batch size {states.shape[0]}, the input {batch_size}")
        return states

    def write(self, layer_idx: int, states: torch.Tensor) -> None:
        """`states`: the memory this layer read followed by this segment's attention inputs; the last
        `memory_length` are kept, without gradient."""
        self.new[layer_idx] = states[:, -self.length:].detach()

    def output(self) -> tuple[torch.Tensor, ...] | None:
        return tuple(self.new) if self.length and all(s is not None for s in self.new) else None


# ------------------------------------------------------------------------------------------------ attention


def sinusoid(num_positions: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """R for distances num_positions-1 .. 0 (Transformer-XL's order): [num_positions, dim], sin then cos halves."""
    distance = torch.arange(num_positions - 1, -1, -1.0, device=device, dtype=torch.float32)
    inv_freq = 1.0 / (10000 ** (torch.arange(0.0, dim, 2.0, device=device) / dim))
    angles = distance[:, None] * inv_freq[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1).to(dtype)


def rel_shift(scores: torch.Tensor) -> torch.Tensor:
    """Transformer-XL's relative shift: [..., q, k] scores indexed by (query, distance column k-1-d) become scores
    indexed by (query, key), for queries that are the last q of the k keys. Entry (i, j) gets distance
    (k - q) + i - j; entries with j beyond the query (negative distances) hold leftovers the causal mask hides."""
    *lead, q, k = scores.shape
    padded = torch.cat([scores.new_zeros(*lead, q, 1), scores], dim=-1)
    return padded.view(*lead, k + 1, q)[..., 1:, :].reshape(*lead, q, k)


class RelativeXLAttention(nn.Module):
    """Transformer-XL's relative parameters of one attention layer and its kernel. The owning `Attention` keeps
    its q/k/v/o projections; this module reads them (`forward(attention, ...)`)."""

    def __init__(self, config):
        super().__init__()
        heads, head_dim = config.num_attention_heads, config.resolved_head_dim
        self.hidden_size = config.hidden_size
        self.initializer_range = config.initializer_range
        self.r_net = nn.Linear(config.hidden_size, heads * head_dim, bias=False)
        self.r_w_bias = nn.Parameter(torch.zeros(heads, head_dim))  # u
        self.r_r_bias = nn.Parameter(torch.zeros(heads, head_dim))  # v

    def init_weights(self) -> None:
        """N(0, initializer_range) for u and v, as Transformer-XL's `init_std` (r_net is drawn as every Linear)."""
        init.normal_(self.r_w_bias, mean=0.0, std=self.initializer_range)
        init.normal_(self.r_r_bias, mean=0.0, std=self.initializer_range)

    def forward(self, attention: nn.Module, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None,
                cache, layer_idx: int, memory: SegmentMemory | None):
        from .attention import repeat_kv  # attention.py imports this module

        memory_states = memory.read(layer_idx, hidden_states.shape[0]) if memory is not None else None
        context = hidden_states if memory_states is None else torch.cat(
            [memory_states.to(hidden_states.dtype), hidden_states], dim=1)
        if memory is not None and memory.length:
            memory.write(layer_idx, context)
        if attention.fused_qkv:  # one projection of the context: the segment's queries are its last rows
            query, key, value = attention._project_fused(context)
            query = query[:, :, context.shape[1] - hidden_states.shape[1]:]
        else:
            query = attention._project(attention.q_proj, hidden_states)
            key, value = attention._project(attention.k_proj, context), attention._project(attention.v_proj, context)
        if cache is not None:
            key, value = self._update_cache(cache, key, value, layer_idx)
        key = repeat_kv(key, attention.num_key_value_groups)
        value = repeat_kv(value, attention.num_key_value_groups)
        q_len, k_len = query.shape[-2], key.shape[-2]

        relative = self.r_net(sinusoid(k_len, self.hidden_size, query.device, query.dtype))
        relative = relative.view(k_len, attention.num_heads, attention.head_dim).transpose(0, 1)  # [heads, k, dim]
        content = torch.matmul(query + self.r_w_bias[:, None], key.transpose(2, 3))  # q·k + u·k
        position = rel_shift(torch.matmul(query + self.r_r_bias[:, None], relative.transpose(1, 2)))  # q·WR + v·WR
        scores = (content + position) * attention.scaling
        remembered = 0 if memory_states is None else memory_states.shape[1]
        if attention_mask is not None:  # built for the cached + current keys; memory positions are always visible
            scores = scores + nn.functional.pad(attention_mask[:, :, :, : k_len - remembered], (remembered, 0))
        else:  # causal: query i (the (k - q + i)-th key) sees keys up to itself
            visible = torch.ones(q_len, k_len, dtype=torch.bool, device=scores.device).tril(k_len - q_len)
            scores = scores.masked_fill(~visible, torch.finfo(scores.dtype).min)
        output, weights = softmax_attend(scores, value, attention.attention_dropout, attention.training, query.dtype)
        output = output.reshape(*hidden_states.shape[:-1], -1)
        return attention.o_proj(output), weights  # weights recorded when asked (core/recording.py)

    @staticmethod
    def _update_cache(cache, key, value, layer_idx):
        from .paged import is_paged

        if is_paged(cache):
            raise ValueError("position_embedding_type='relative_xl' does not support continuous batching (paged "
                             "cache): its relative shift needs the queries to be the last keys")
        cache = getattr(cache, "self_attention_cache", cache)
        key, value = cache.update(key, value, layer_idx)
        if getattr(cache.layers[layer_idx], "is_compileable", False):
            raise ValueError("position_embedding_type='relative_xl' does not support static caches (its relative "
                             "shift needs the queries to be the last keys); use the default dynamic cache")
        return key, value
