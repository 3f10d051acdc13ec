"""Parameter and FLOP accounting per architecture element (what `hfv flops` prints and Trainer's `total_flos` uses).

Parameters are counted exactly from the model's own modules (tied and cross-layer-shared weights once); a
mixture of experts' *active* parameters per token count `num_experts_per_tok` of its experts. FLOPs are the
matrix-multiply FLOPs (2 per multiply-add) of one forward pass — elementwise work (norms, activations, softmax)
is left out, as `torch.utils.flop_counter` and MFU conventions do — element by element:

- embeddings: the factorized projection (ALBERT/ELECTRA); table look-ups cost none
- attention projections: q, k, v, o (cross-attention keys/values run over the encoder tokens)
- attention scores: q·kᵀ and weights·v over the (query, key) pairs the mask allows: all pairs for bidirectional
  and cross-attention, the lower triangle for causal, a band of `sliding_window` keys for sliding-window
  attention. `dense_attention=True` counts every pair instead, as a dense kernel (eager, CPU sdpa) computes them.
  Luong's general score adds W_a per query; Bahdanau's additive score W_a per query and U_a per key, its v_a per
  pair costing what q·k would;
  Linformer compresses the keys/values to `linformer_k` rows first (counted with the projections).
  Sparse patterns (`attention_window`, `global_attention_positions`, `random_attention_blocks`, per layer by
  `layer_attention_pattern`) count the pairs the pattern allows in that layer (exactly, row by row: band, global
  rows/columns, random key blocks, clipped by the causal mask) — the model FLOPs of the pattern, what MFU should
  use. Eager/sdpa still compute every pair and mask it (count with `dense_attention=True`); flex skips the blocks
  the pattern empties but computes partly allowed blocks whole, so it lies in between.
  Linear attention (`attention_type="linear"`) has no pairs: φ(k)ᵀ[v, 1] and φ(q)(...) per token (feature size F:
  head_dim for elu+1, `linear_num_features` for FAVOR+, whose W x adds 2·head_dim·F per query and key); causal
  attention adds the masked quadratic form inside each chunk of `CHUNK` tokens (its causal triangle;
  `dense_attention=True` counts the whole chunk squares over the length padded to whole chunks, as computed).
  Transformer-XL (`relative_xl`): the (q + v)·W_R R term costs what q·k does per pair and `r_net` projects one
  table row per key once per batch (both under "positions"; `batch_size` shares the table); `memory_len` remembered tokens (default `memory_length`: a steady-
  state segment) add keys: their k/v projections and the pairs of every query with them.
- feed-forward (MLP, GLU), router and experts (each token through its `num_experts_per_tok` experts; experts
  with a capacity limit drop tokens, so theirs is an upper bound)
- heads: LM/MLM heads on every token (the decoder's tokens for encoder-decoders), poolers/classifiers per sequence

Backward costs twice the forward (a gradient for each matmul operand), so a training step is 3x the forward —
less the second gradient of matmuls with a constant operand (FAVOR+'s random features, Transformer-XL's sinusoid
table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .attention_pairs import attention_pairs, sparse_pairs
from .core.attention import Attention
from .core.attention_scores import AdditiveScore, GeneralScore
from .core.heads import Pooler, SequenceClassificationHead
from .core.linear_attention import CHUNK, FavorFeatures
from .core.moe import SeparateExperts, SparseMoE
from .core.sparse import pattern_key
from .core.stack import TransformerStack

ELEMENTS = ("embeddings", "attention projections", "attention scores", "feed-forward", "router", "experts",
            "norms", "positions", "heads")
# Head modules that see one vector per sequence rather than every token.
_PER_SEQUENCE = (Pooler, SequenceClassificationHead)
_PER_SEQUENCE_NAMES = ("seq_relationship",)
# Forward + backward: each matmul's backward computes the gradients of both of its operands.
TRAINING_MULTIPLIER = 3


@dataclass
class Element:
    params: int = 0
    active_params: int = 0
    forward_flops: int = 0
    # forward FLOPs of matmuls with one constant operand (FAVOR+'s W, Transformer-XL's sinusoid table): their
    # backward computes one gradient, not two
    one_gradient_flops: int = 0

    @property
    def training_flops(self) -> int:
        return TRAINING_MULTIPLIER * self.forward_flops - self.one_gradient_flops


@dataclass
class Accounting:
    """Per-element parameters and forward FLOPs for one sequence of `seq_len` (+ `target_len` decoder) tokens."""

    seq_len: int
    target_len: int | None
    dense_attention: bool
    memory_len: int = 0
    batch_size: int = 1
    elements: dict[str, Element] = field(default_factory=lambda: {name: Element() for name in ELEMENTS})

    @property
    def tokens(self) -> int:
        """Tokens per sequence: the input tokens plus, for encoder-decoders, the decoder tokens."""
        return self.seq_len + (self.target_len or 0)

    @property
    def params(self) -> int:
        return sum(e.params for e in self.elements.values())

    @property
    def active_params(self) -> int:
        return sum(e.active_params for e in self.elements.values())

    @property
    def forward_flops(self) -> int:
        return sum(e.forward_flops for e in self.elements.values())

    @property
    def training_flops(self) -> int:
        """Forward + backward FLOPs of one sequence."""
        return sum(e.training_flops for e in self.elements.values())

    def table(self) -> str:
        """The per-element table `hfv flops` prints."""
        rows = [("element", "params", "active params", "fwd FLOPs/token", "fwd+bwd FLOPs/token", "share")]
        total = max(self.forward_flops, 1)
        for name, e in self.elements.items():
            if e.params or e.forward_flops:
                rows.append((name, f"{e.params:,}", f"{e.active_params:,}", _si(e.forward_flops / self.tokens),
                             _si(e.training_flops / self.tokens), f"{100 * e.forward_flops / total:.1f}%"))
        rows.append(("total", f"{self.params:,}", f"{self.active_params:,}", _si(self.forward_flops / self.tokens),
                     _si(self.training_flops / self.tokens), "100.0%"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.insert(-1, "-" * len(lines[0]))
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"seq_len": self.seq_len, "target_len": self.target_len, "tokens": self.tokens,
                "dense_attention": self.dense_attention, "memory_len": self.memory_len,
                "batch_size": self.batch_size, "params": self.params, "active_params": self.active_params,
                "forward_flops": self.forward_flops, "training_flops": self.training_flops,
                "elements": {k: {**vars(v), "training_flops": v.training_flops} for k, v in self.elements.items()}}


def _si(value: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3f}{unit}"
    return f"{value:.0f}"


# --- parameters ------------------------------------------------------------------------------------------------


def _element_of(name: str) -> str:
    """The element a parameter belongs to, from its (core-defined) name."""
    parts = name.split(".")
    if ".experts." in f".{name}":
        return "experts"
    if "mlp" in parts and "gate" in parts:
        return "router"
    if "relative_xl" in parts:
        return "positions"
    if "self_attn" in parts or "cross_attn" in parts:
        return "attention projections"
    if "mlp" in parts:
        return "feed-forward"
    if "position_bias" in parts or "relative_attention_bias" in parts:
        return "positions"
    if any(p.endswith("norm") for p in parts[:-1]):
        return "norms"
    if "embeddings" in parts or "shared" in parts:
        return "embeddings"
    return "heads"


def _count_params(model: nn.Module, report: Accounting) -> None:
    experts = [m for m in model.modules() if isinstance(m, SparseMoE)]
    active_fraction = experts[0].top_k / experts[0].num_experts if experts else 1.0
    for name, param in model.named_parameters():  # duplicates (tied, shared) are yielded once
        element = report.elements[_element_of(name)]
        element.params += param.numel()
        element.active_params += round(param.numel() * active_fraction) if "experts" in name.split(".") \
            else param.numel()


# --- FLOPs -----------------------------------------------------------------------------------------------------


def _linear_flops(module: nn.Module) -> int:
    """Matmul FLOPs per input vector of every nn.Linear inside `module`."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def _linear_attention(attn: Attention, report: Accounting, tokens: int) -> None:
    """φ(q), φ(k) and the two sums of kernelised linear attention (core/linear_attention.py) over `tokens`."""
    e = report.elements
    heads, dim = attn.num_heads, attn.head_dim
    favor = isinstance(attn.feature_map, FavorFeatures)
    features = attn.feature_map.num_features if favor else dim
    if favor:  # W x for every query and key (W is a buffer: no gradient of its own)
        projection = 2 * tokens * heads * 2 * dim * features
        e["attention scores"].forward_flops += projection
        e["attention scores"].one_gradient_flops += projection
    value_width = dim + 1  # [v, 1]: numerator and normaliser together
    sums = 2 * features * value_width  # φ(k)ᵀ[v, 1] per key, φ(q)·(sum) per query
    if not attn.is_causal:
        e["attention scores"].forward_flops += heads * 2 * tokens * sums
        return
    chunk = min(CHUNK, tokens)
    if report.dense_attention:  # as computed: the length padded to whole chunks, whole chunk squares
        padded = -(-tokens // chunk) * chunk
        pairs = padded * chunk
        tokens = padded
    else:  # the causal triangle inside each chunk
        full, rest = divmod(tokens, chunk)
        pairs = full * chunk * (chunk + 1) // 2 + rest * (rest + 1) // 2
    e["attention scores"].forward_flops += heads * (2 * tokens * sums + 2 * pairs * (features + value_width))


def _attention(attn: Attention, report: Accounting, queries: int, keys: int, pattern: int | None = None) -> None:
    e = report.elements
    q_width, k_width, v_width = attn.qkv_sizes  # fused or not, each query/key costs its own rows of the projection
    hidden = attn.o_proj.out_features
    per_query = 2 * hidden * q_width + _linear_flops(attn.o_proj)
    per_key = 2 * hidden * (k_width + v_width)
    if attn.linformer is not None:  # E X and F X: the layer input compressed to linformer_k rows, then projected
        compressed = attn.linformer.key_compress.out_features
        e["attention projections"].forward_flops += 2 * 2 * compressed * keys * attn.k_proj.in_features
        keys = compressed
    if attn.relative_xl is not None:  # Transformer-XL: the remembered tokens are keys too
        keys += report.memory_len  # (concatenated to the segment: autograd computes their input gradient too)
        if attn.fused_qkv:  # one projection of memory and segment: the memory rows' queries are computed too
            e["attention projections"].forward_flops += report.memory_len * 2 * hidden * q_width
    e["attention projections"].forward_flops += queries * per_query + keys * per_key
    if attn.feature_map is not None:
        _linear_attention(attn, report, queries)
        return
    causal = attn.is_causal and not report.dense_attention
    if pattern is not None and not report.dense_attention:
        pairs = sparse_pairs(attn.config, pattern, attn.is_causal, keys)
    else:
        pairs = attention_pairs(queries, keys, causal, attn.sliding_window if causal else None)
    per_pair = 2 * attn.num_heads * attn.head_dim  # one dot product of a head's vectors
    e["attention scores"].forward_flops += 2 * per_pair * pairs  # q·k and weights·v
    if attn.relative_xl is not None:  # r_net over the relative table (one row per key), (q + v)·W_R R per pair
        # the sinusoid table is a constant, projected once per batch: its share per sequence
        table = keys * _linear_flops(attn.relative_xl.r_net) // report.batch_size
        e["positions"].forward_flops += table + per_pair * pairs
        e["positions"].one_gradient_flops += table
    per_head = 2 * attn.num_heads * attn.head_dim**2  # one [head_dim, head_dim] matrix per head and vector
    if isinstance(attn.score, GeneralScore):  # W_a folded into the queries
        e["attention scores"].forward_flops += queries * per_head
    elif isinstance(attn.score, AdditiveScore):  # W_a q and U_a k (per query head); v_a . tanh(...) replaces q . k
        e["attention scores"].forward_flops += (queries + keys) * per_head


def _channel_mixer(mixer: nn.Module, report: Accounting, tokens: int) -> None:
    e = report.elements
    if isinstance(mixer, SparseMoE):
        e["router"].forward_flops += tokens * _linear_flops(mixer.gate)
        experts = mixer.experts
        if isinstance(experts, SeparateExperts):
            per_expert = _linear_flops(experts[0])
        else:
            per_expert = sum(2 * p[0].numel() for p in (experts.first_proj, experts.down_proj))
        e["experts"].forward_flops += tokens * mixer.top_k * per_expert
    else:
        e["feed-forward"].forward_flops += tokens * _linear_flops(mixer)


def _stack(stack: TransformerStack, report: Accounting, tokens: int, encoder_tokens: int | None) -> None:
    for layer_idx in range(stack.num_layers):
        block = stack.block_for_layer(layer_idx)
        _attention(block.self_attn, report, tokens, tokens, pattern_key(stack.config, layer_idx))
        if block.cross_attn is not None:
            _attention(block.cross_attn, report, tokens, encoder_tokens)
        _channel_mixer(block.mlp, report, tokens)
    embeddings = getattr(stack, "embeddings", None)
    if embeddings is not None and embeddings.projection is not None:
        report.elements["embeddings"].forward_flops += tokens * _linear_flops(embeddings.projection)


def _stacks(base: nn.Module) -> list[tuple[TransformerStack, bool]]:
    """(stack, is the decoder of an encoder-decoder) for each stack of a base model."""
    if getattr(base.config, "is_encoder_decoder", False):
        return [(base.encoder, False), (base.decoder, True)]
    return [(base.decoder if hasattr(base, "decoder") else base.encoder, False)]


def _count_flops(model: nn.Module, report: Accounting) -> None:
    base = model.base_model
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    source, target = report.seq_len, (report.target_len or report.seq_len)
    for stack, is_decoder in _stacks(base):
        _stack(stack, report, target if is_decoder else source, source if is_decoder else None)
    embeddings = getattr(base, "embeddings", None)  # encoder/decoder families keep it next to the stack
    if embeddings is not None and embeddings.projection is not None:
        report.elements["embeddings"].forward_flops += source * _linear_flops(embeddings.projection)
    head_tokens = target if encoder_decoder else source
    pooler = getattr(base, "pooler", None)
    if pooler is not None:
        report.elements["heads"].forward_flops += _linear_flops(pooler)
    if model is base:
        return
    for name, module in model.named_children():
        if module is base or module is None:
            continue
        per_sequence = isinstance(module, _PER_SEQUENCE) or name in _PER_SEQUENCE_NAMES
        report.elements["heads"].forward_flops += (1 if per_sequence else head_tokens) * _linear_flops(module)


def account(model: nn.Module, seq_len: int, target_len: int | None = None,
            dense_attention: bool = False, memory_len: int | None = None, batch_size: int = 1) -> Accounting:
    """Parameters and forward FLOPs by element of `model` for one sequence of `seq_len` tokens (encoder-decoders:
    `target_len` decoder tokens, default `seq_len`; Transformer-XL: `memory_len` remembered tokens, default the
    config's `memory_length`; its relative table is projected once per batch of `batch_size` sequences). The model
    may live on the meta device."""
    if seq_len <= 0 or (target_len is not None and target_len <= 0):
        raise ValueError(f"seq_len={seq_len!r} and target_len={target_len!r} must be positive")
    if memory_len is None:
        memory_len = getattr(model.config, "memory_length", 0) or 0
    if memory_len < 0:
        raise ValueError(f"memory_len={memory_len!r} must be >= 0")
    if batch_size <= 0:
        raise ValueError(f"batch_size={batch_size!r} must be positive")
    if not getattr(model.config, "is_encoder_decoder", False):
        target_len = None
    elif target_len is None:
        target_len = seq_len
    report = Accounting(seq_len, target_len, dense_attention, memory_len, batch_size)
    _count_params(model, report)
    _count_flops(model, report)
    return report


def training_flops(model: nn.Module, inputs: dict) -> int:
    """Forward + backward FLOPs of a batch (Trainer's `floating_point_ops`): from the shapes of `input_ids` (or
    `inputs_embeds`), for encoder-decoders `decoder_input_ids` or `labels`, and Transformer-XL's `memory`."""
    reference = inputs.get("input_ids", inputs.get("inputs_embeds"))
    if reference is None:
        return 0
    batch, seq_len = reference.shape[:2]
    target_len = None
    if getattr(model.config, "is_encoder_decoder", False):
        target = next((inputs[k] for k in ("decoder_input_ids", "labels", "decoder_inputs_embeds")
                       if inputs.get(k) is not None), None)
        target_len = target.shape[1] if target is not None else seq_len
    memory = inputs.get("memory")
    memory_len = int(memory[0].shape[1]) if memory else 0
    cache = model.__dict__.setdefault("_hfv_flops_cache", {})
    key = (int(batch), int(seq_len), target_len, memory_len)
    if key not in cache:
        cache[key] = account(model, int(seq_len), target_len, memory_len=memory_len,
                             batch_size=int(batch)).training_flops
    return int(batch) * cache[key]


def default_head(family: str) -> str:
    return {"decoder": "ForCausalLM", "encoder": "ForMaskedLM", "encoder-decoder": "ForConditionalGeneration"}[family]


def model_for_config(config, head: str | None = None) -> nn.Module:
    """The variant's model (its pretraining LM head by default) for `config`, built on the meta device: no memory,
    no initialisation; enough to count."""
    import hf_variants

    spec = next((s for s in hf_variants.VARIANTS.values() if s.model_type == config.model_type), None)
    if spec is None:
        raise ValueError(f"model_type={config.model_type!r} is not an hf_variants variant; "
                         f"allowed: {', '.join(s.model_type for s in hf_variants.VARIANTS.values())}")
    head = head or default_head(spec.family)
    if head not in spec.classes:
        raise ValueError(f"head={head!r} is not a head of {config.model_type}; allowed: {', '.join(spec.classes)}")
    with torch.device("meta"):
        return spec.classes[head](config)


def load_config(source: str, overrides: dict | None = None):
    """A config from a variant name (its paper defaults), a config.json file or a checkpoint folder."""
    import json
    from pathlib import Path

    import hf_variants

    overrides = overrides or {}
    if source in hf_variants.VARIANTS:
        return hf_variants.VARIANTS[source].config_class(**overrides)
    path = Path(source)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ValueError(f"{source!r} is neither a variant name ({', '.join(hf_variants.VARIANTS)}), a config.json "
                         "nor a folder holding one")
    fields = {**json.loads(path.read_text()), **overrides}
    model_type = fields.get("model_type")
    spec = next((s for s in hf_variants.VARIANTS.values() if s.model_type == model_type), None)
    if spec is None:
        raise ValueError(f"{path}: model_type={model_type!r} is not an hf_variants variant")
    return spec.config_class.from_dict(fields)


def install_flop_counter() -> None:
    """Make every hf_variants model's `floating_point_ops` (what Trainer's `total_flos` sums) use `training_flops`
    (done on `import hf_variants`; the remote-code copy of the models keeps transformers' estimate)."""
    from .families.base import HfvPreTrainedModel

    HfvPreTrainedModel.flop_counter = staticmethod(training_flops)
