"""Kernelised linear attention (`attention_type="linear"`): softmax(q kᵀ) v replaced by φ(q) (φ(k)ᵀ v) / φ(q) Σ φ(k).

Feature maps φ (`linear_feature_map`):
- "elu": elu(x) + 1 (Katharopoulos et al. 2020, "Transformers are RNNs"); no logit scale.
- "favor": Performer's FAVOR+ positive orthogonal random features (Choromanski et al. 2021),
  φ(x) = exp(W x - |x|²/2) / sqrt(m) with x = q or k times sqrt(scaling), so φ(q)·φ(k) estimates exp(q·k scaling);
  W holds `linear_num_features` (m) rows drawn in orthogonal blocks with chi-distributed norms. W is a persistent
  buffer (saved and loaded with the weights); in training it is redrawn every `linear_redraw_interval` forward
  passes of the stack (0 = never), from `linear_feature_seed` when set (draw n of layer l is seeded with
  seed + 7919 l + 104729 n; the draw count restarts at 0 in a new process) or else from torch's global RNG. Eval
  never redraws.

Bidirectional attention sums over every key; causal attention sums over the prefix, computed chunk by chunk (a
masked quadratic form inside a chunk of `CHUNK` tokens, the running sums across chunks), so time and memory grow
linearly with length. Cached generation keeps only the running sums S = Σ φ(k) vᵀ and z = Σ φ(k) per layer
(`LinearAttentionState`, a layer of transformers' DynamicCache): O(1) memory and work per generated token.

Design choices: RoPE (when configured) rotates q and k before the feature map (as performer-pytorch does; RoFormer
instead rotates φ(q), φ(k) in the numerator only), so φ and every normaliser stay positive. Padded keys get φ(k) = 0 and contribute nothing. φ and the sums run in
float32. Queries whose prefix holds no key (left padding) get a zero output instead of 0/0. There are no
attention weights: attention-probability dropout has nothing to act on and is not applied, and
`output_attentions` is refused. Only self-attention is linear; an encoder-decoder's cross-attention stays softmax.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .compat import DynamicCache, DynamicLayer, EncoderDecoderCache
from .paged import is_paged

LINEAR_FEATURE_MAPS = ("elu", "favor")
CHUNK = 64  # causal full form: tokens per chunk (quadratic inside, running sums across)
REFUSED_POSITIONS = ("alibi", "relative_bias")


# --- configuration ----------------------------------------------------------------------------------------------
def validate_linear_attention(config) -> None:
    """Types and ranges of the linear-attention fields, and the combinations linear attention cannot express."""
    from .config_checks import _allowed, _check_int  # config_checks imports this module

    # attention_type itself is checked with the other attention kinds (attention_scores.validate_attention_kind)
    if not isinstance(config.linear_feature_map, str):
        raise TypeError(f"linear_feature_map={config.linear_feature_map!r} must be a string")
    _allowed("linear_feature_map", config.linear_feature_map, LINEAR_FEATURE_MAPS)
    _check_int("linear_num_features", config.linear_num_features, 1, True)
    _check_int("linear_redraw_interval", config.linear_redraw_interval, 0, False)
    _check_int("linear_feature_seed", config.linear_feature_seed, 0, True)
    if config.attention_type != "linear":
        return
    if config.position_embedding_type in REFUSED_POSITIONS:
        raise ValueError(f"attention_type='linear' has no score matrix to add a position bias to: "
                         f"position_embedding_type={config.position_embedding_type!r} is not allowed with it; use "
                         f"'rope', 'learned', 'sinusoidal' or 'none'")
    if config.attention_score != "scaled_dot":
        raise ValueError(f"attention_type='linear' replaces the score by a feature map: attention_score="
                         f"{config.attention_score!r} is not allowed with it (leave attention_score='scaled_dot')")
    if config.sliding_window is not None:
        raise ValueError(f"attention_type='linear' sums over the whole prefix: sliding_window={config.sliding_window}"
                         " is not allowed with it (set sliding_window=None)")
    if getattr(config, "output_attentions", False):
        raise ValueError("attention_type='linear' computes no attention weights: output_attentions=True is not "
                         "allowed with it")


def num_features(config) -> int:
    """FAVOR+ feature count: `linear_num_features`, or Performer's default round(d ln d) for head size d."""
    if config.linear_num_features is not None:
        return config.linear_num_features
    dim = config.resolved_head_dim
    return max(1, round(dim * math.log(dim)))


# --- feature maps -----------------------------------------------------------------------------------------------
def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """elu(x) + 1: positive, so every normaliser is > 0 (Katharopoulos et al. 2020)."""
    return nn.functional.elu(x.float()) + 1


def orthogonal_gaussian(num_rows: int, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """[num_rows, dim] random features: stacked blocks of orthogonal rows (QR of Gaussian matrices), each row scaled
    by the norm of a Gaussian vector so its length is distributed as a Gaussian row's (Performer's ORF)."""
    blocks = []
    for _ in range(math.ceil(num_rows / dim)):
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
        blocks.append(q.T)
    norms = torch.randn(num_rows, dim, generator=generator).norm(dim=1, keepdim=True)
    return torch.cat(blocks)[:num_rows] * norms


class FavorFeatures(nn.Module):
    """FAVOR+ positive random features φ(x) = exp(W x - |x|²/2) / sqrt(m) with a redraw schedule."""

    def __init__(self, config, layer_idx: int):
        super().__init__()
        self.num_features = num_features(config)
        self.head_dim = config.resolved_head_dim
        self.layer_idx = layer_idx
        self.seed = config.linear_feature_seed
        self.redraw_interval = config.linear_redraw_interval
        self.forward_calls = 0
        self.draws = 0
        self.projection = nn.Buffer(self.draw(0), persistent=True)

    def draw(self, index: int) -> torch.Tensor:
        """Draw `index` of this layer's features (seeded when `linear_feature_seed` is set)."""
        generator = None
        if self.seed is not None:
            generator = torch.Generator().manual_seed(self.seed + 7919 * self.layer_idx + 104729 * index)
        return orthogonal_gaussian(self.num_features, self.head_dim, generator)

    @torch.no_grad()
    def tick(self) -> None:
        """One training forward of the stack: redraw W every `redraw_interval` calls."""
        self.forward_calls += 1
        if self.redraw_interval and self.forward_calls % self.redraw_interval == 0:
            self.draws += 1
            self.projection.copy_(self.draw(self.draws))

    def forward(self, x: torch.Tensor, is_query: bool) -> torch.Tensor:
        x = x.float()
        logits = x @ self.projection.T.float() - x.pow(2).sum(-1, keepdim=True) / 2
        if is_query:  # a per-query constant cancels in the ratio; it keeps exp() finite (keys enter running sums)
            logits = logits - logits.amax(-1, keepdim=True).detach()
        return torch.exp(logits) / math.sqrt(self.num_features)


class EluFeatures(nn.Module):
    def forward(self, x: torch.Tensor, is_query: bool) -> torch.Tensor:
        return elu_feature_map(x)


def build_feature_map(config, layer_idx: int) -> nn.Module:
    """φ for `config.linear_feature_map`."""
    return FavorFeatures(config, layer_idx) if config.linear_feature_map == "favor" else EluFeatures()


# --- the two forms ----------------------------------------------------------------------------------------------
def _ratio(numerator_and_normaliser: torch.Tensor) -> torch.Tensor:
    """[..., D + 1] (numerator, normaliser) -> numerator / normaliser, 0 where no key was summed."""
    numerator, normaliser = numerator_and_normaliser[..., :-1], numerator_and_normaliser[..., -1:]
    return numerator / torch.where(normaliser > 0, normaliser, torch.ones_like(normaliser))


def bidirectional_linear(phi_q: torch.Tensor, phi_k: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """[B, H, Q, F], [B, H, K, F], [B, H, K, D] -> [B, H, Q, D]: φ(q) (φ(k)ᵀ [v, 1]) over every key."""
    value1 = nn.functional.pad(value.float(), (0, 1), value=1.0)
    return _ratio(phi_q @ (phi_k.transpose(-1, -2) @ value1))


def causal_linear(phi_q: torch.Tensor, phi_k: torch.Tensor, value: torch.Tensor,
                  state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal linear attention over new tokens after `state` ([B, H, F, D + 1], the sums of earlier tokens' φ(k)
    [v, 1]ᵀ, or None): returns ([B, H, Q, D], the state after the new tokens). Chunked: within a chunk the masked
    quadratic form, across chunks the exclusive prefix sums of the chunks' states."""
    batch, heads, length, features = phi_q.shape
    value1 = nn.functional.pad(value.float(), (0, 1), value=1.0)
    chunk = min(CHUNK, length)
    pad = (-length) % chunk
    if pad:
        phi_q, phi_k = (nn.functional.pad(t, (0, 0, 0, pad)) for t in (phi_q, phi_k))
        value1 = nn.functional.pad(value1, (0, 0, 0, pad))
    n = (length + pad) // chunk
    q_c = phi_q.reshape(batch, heads, n, chunk, features)
    k_c = phi_k.reshape(batch, heads, n, chunk, features)
    v_c = value1.reshape(batch, heads, n, chunk, -1)
    chunk_states = k_c.transpose(-1, -2) @ v_c  # [B, H, n, F, D + 1]
    before = torch.cumsum(chunk_states, dim=2) - chunk_states
    if state is not None:
        before = before + state[:, :, None]
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=phi_q.device).tril()
    scores = (q_c @ k_c.transpose(-1, -2)).masked_fill(~causal, 0.0)
    out = scores @ v_c + q_c @ before
    new_state = before[:, :, -1] + chunk_states[:, :, -1]
    out = _ratio(out.reshape(batch, heads, n * chunk, -1)[:, :, :length])
    return out, new_state


# --- the recurrent state in transformers' cache ----------------------------------------------------------------
class LinearAttentionState(DynamicLayer):
    """A DynamicCache layer holding linear attention's running sums instead of keys and values: `keys` is
    S = Σ φ(k) vᵀ [B, H, F, D], `values` is z = Σ φ(k) [B, H, F, 1]; their size does not grow with the tokens seen.
    Beam search (`reorder_cache`) and batch selection reindex dim 0 as for keys/values; cropping is impossible
    (sums cannot be un-summed), so assisted generation is refused."""

    is_croppable = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokens_seen = 0

    def update(self, key_states, value_states, *args, **kwargs):
        raise TypeError("a linear-attention cache layer holds running sums, not keys/values: use `store`")

    def state(self) -> torch.Tensor | None:
        """[B, H, F, D + 1] (S and z side by side), or None before the first token."""
        if not self.is_initialized:
            return None
        return torch.cat([self.keys, self.values], dim=-1)

    def store(self, state: torch.Tensor, new_tokens: int) -> None:
        if not self.is_initialized:
            self.device = state.device
            self.is_initialized = True
        self.keys, self.values = state[..., :-1], state[..., -1:]
        self.tokens_seen += new_tokens

    def get_seq_length(self) -> int:
        return self.tokens_seen if self.is_initialized else 0

    def reset(self) -> None:
        super().reset()
        self.tokens_seen = 0

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove:
            raise ValueError("attention_type='linear' keeps running sums that cannot be cropped (assisted/speculative"
                             " generation needs a key/value cache)")


def state_layer(cache, layer_idx: int) -> LinearAttentionState:
    """This layer's recurrent state in `cache` (a DynamicCache, or an EncoderDecoderCache's self-attention part); an
    empty DynamicLayer there is replaced by a `LinearAttentionState`."""
    if isinstance(cache, EncoderDecoderCache):
        cache = cache.self_attention_cache
    if not isinstance(cache, DynamicCache):
        raise ValueError(f"attention_type='linear' keeps its recurrent state in a DynamicCache; got "
                         f"{type(cache).__name__} (e.g. cache_implementation='static' is not supported)")
    layers = cache.layers
    while len(layers) <= layer_idx:
        layers.append(LinearAttentionState())
    layer = layers[layer_idx]
    if isinstance(layer, LinearAttentionState):
        return layer
    if type(layer) is not DynamicLayer or layer.is_initialized:
        raise ValueError(f"attention_type='linear': cache layer {layer_idx} is a {type(layer).__name__} already "
                         "holding keys/values; pass a fresh DynamicCache")
    layers[layer_idx] = LinearAttentionState()
    return layers[layer_idx]


# --- hooks called by the stack and the attention module -------------------------------------------------------
def stack_mask(stack: nn.Module, attention_mask: torch.Tensor | None, seq_length: int,
               output_attentions: bool = False) -> torch.Tensor | None:
    """What every linear layer of `stack` needs instead of a score mask: [B, new tokens] bool (True = a real key),
    or None when nothing is padded. Also one step of the FAVOR+ redraw schedule in training."""
    if output_attentions:
        raise ValueError("attention_type='linear' computes no attention weights: output_attentions=True is not "
                         "available")
    if stack.training:
        for module in stack.modules():
            if isinstance(module, FavorFeatures):
                module.tick()
    if attention_mask is None:
        return None
    if not isinstance(attention_mask, torch.Tensor) or attention_mask.dim() != 2:
        raise ValueError("attention_type='linear' takes a 2-D padding mask [batch, keys] (1 = token, 0 = padding); "
                         f"got {type(attention_mask).__name__} of shape {getattr(attention_mask, 'shape', None)}")
    return attention_mask[:, -seq_length:].bool()


def linear_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                     key_mask: torch.Tensor | None, cache, layer_idx: int) -> torch.Tensor:
    """Self-attention of `module` (an `Attention` with a `feature_map`) on [B, H, L, D] projections: returns the
    heads' outputs as [B, L, H, D]. Causal modules read and advance the recurrent state in `cache` when given."""
    if is_paged(cache):
        raise ValueError("attention_type='linear' keeps a recurrent state, not pages: continuous batching is not "
                         "supported")
    from .attention import repeat_kv  # attention imports this module

    key = repeat_kv(key, module.num_key_value_groups)
    value = repeat_kv(value, module.num_key_value_groups)
    if isinstance(module.feature_map, FavorFeatures):
        root = math.sqrt(module.scaling)
        query, key = query * root, key * root
    phi_q, phi_k = module.feature_map(query, is_query=True), module.feature_map(key, is_query=False)
    if key_mask is not None:
        phi_k = phi_k * key_mask[:, None, :, None].to(phi_k.dtype)
    if not module.is_causal:
        output = bidirectional_linear(phi_q, phi_k, value)
    else:
        layer = state_layer(cache, layer_idx) if cache is not None else None
        output, state = causal_linear(phi_q, phi_k, value, layer.state() if layer is not None else None)
        if layer is not None:
            layer.store(state, query.shape[-2])
    return output.to(value.dtype).transpose(1, 2)
