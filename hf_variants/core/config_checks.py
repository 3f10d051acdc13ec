"""Validation of `HfvConfig` fields: types, ranges and finiteness of every field, and every combination of elements
a later layer would trip on, each refused with a message naming the field, its value and what is allowed.

One job: say whether a config can be built. The fields themselves, their defaults and derivation live in
config.py; the checks of the attention kinds live beside their elements and are called from `validate_elements`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers.activations import ACT2FN
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from .attention_scores import validate_attention_kind
from .linear_attention import validate_linear_attention
from .relative_xl import validate as validate_relative_xl
from .sparse import validate_sparse_attention

POSITION_EMBEDDING_TYPES = ("learned", "sinusoidal", "rope", "alibi", "relative_bias", "relative_xl", "none")
ABSOLUTE_POSITION_TYPES = ("learned", "sinusoidal")
BIAS_POSITION_TYPES = ("alibi", "relative_bias")
NORM_TYPES = ("layernorm", "rmsnorm")
NORM_POSITIONS = ("pre", "post")
FFN_TYPES = ("mlp", "glu")
CLASSIFIER_POOLINGS = ("pooler", "head")
MOE_IMPLEMENTATIONS = ("grouped", "eager")
EXPERT_LAYOUTS = ("stacked", "separate")
QKV_LAYOUTS = ("separate", "fused")
ROUTER_TYPES = ("topk", "switch")
INITIALIZER_SCHEMES = ("normal", "scaled_residual", "fan_in", "xavier")


# Sizes beyond these cannot be built (a python loop over 2**40 layers never ends; tables beyond ~2**43 elements
# cannot be allocated anywhere): refused when the config is built.
MAX_COUNT = 4096  # layers, decoder layers, experts
MAX_ELEMENTS = 2**43  # rough parameter + position-table element count
# (field, minimum, optional): integer fields and their lower bound.
INT_FIELDS = (
    ("vocab_size", 1, False), ("hidden_size", 1, False), ("num_hidden_layers", 1, False),
    ("num_attention_heads", 1, False), ("intermediate_size", 1, False), ("max_position_embeddings", 1, False),
    ("num_key_value_heads", 1, True), ("head_dim", 1, True), ("embedding_size", 1, True),
    ("num_hidden_groups", 1, True), ("type_vocab_size", 0, False), ("position_offset", 0, False),
    ("relative_attention_num_buckets", 1, False), ("relative_attention_max_distance", 1, False),
    ("sliding_window", 1, True), ("num_experts", 0, False), ("num_experts_per_tok", 1, False),
    ("expert_capacity", 1, True), ("moe_layer_frequency", 1, False), ("num_decoder_layers", 1, True),
    ("loss_chunk_size", 1, True),
)
BOOL_FIELDS = (
    ("pad_aware_positions", False), ("embedding_norm", True), ("final_norm", True), ("attention_bias", False),
    ("mlp_bias", False), ("scale_embedding", False), ("tie_word_embeddings", False), ("use_cache", False),
    ("scale_decoder_outputs", False), ("final_logits_bias", False), ("is_encoder_decoder", False),
    ("decoder_reads_shifted_source", False), ("embedding_padding_idx", False),
    ("token_types_in_word_embeddings", False), ("classifier_input_dropout", False),
    ("attention_output_dropout", False), ("ffn_output_dropout", False),
)
# (field, low, high, low_inclusive, high_inclusive, optional): finite real fields and their range.
FLOAT_FIELDS = (
    ("layer_norm_eps", 0.0, 1.0, False, True, False),
    ("attention_scale", 0.0, math.inf, False, False, True),
    ("initializer_range", 0.0, math.inf, True, False, False),
    ("hidden_dropout_prob", 0.0, 1.0, True, False, False),
    ("attention_probs_dropout_prob", 0.0, 1.0, True, False, False),
    ("activation_dropout", 0.0, 1.0, True, False, False),
    ("classifier_dropout", 0.0, 1.0, True, False, True),
    ("router_jitter_noise", 0.0, 1.0, True, False, False),
    ("router_aux_loss_coef", 0.0, math.inf, True, False, False),
    ("router_z_loss_coef", 0.0, math.inf, True, False, False),
    ("expert_capacity_factor", 0.0, math.inf, False, False, True),
    ("initializer_factor", 0.0, math.inf, False, False, False),
    ("token_classifier_dropout", 0.0, 1.0, True, False, True),
    ("qa_dropout", 0.0, 1.0, True, False, False),
)
STRING_FIELDS = ("hidden_act", "position_embedding_type", "norm_type", "norm_position", "ffn_type",
                 "classifier_pooling", "classifier_activation", "mlm_head_act", "router_type", "moe_implementation",
                 "expert_layout", "qkv_layout", "pretraining_heads", "initializer_scheme")
TOKEN_ID_FIELDS = ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id", "forced_eos_token_id")


def _allowed(field: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is not supported; allowed values: {', '.join(map(repr, allowed))}")


def _check_int(field: str, value: Any, minimum: int, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{field}={value!r} must be an integer{' or None' if optional else ''}, "
                        f"got {type(value).__name__}")
    if value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{field}={value!r} must be {kind}{' (or None)' if optional else ''}")


def _check_bool(field: str, value: Any, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bool):
        raise TypeError(f"{field}={value!r} must be True or False{' or None' if optional else ''}, "
                        f"got {type(value).__name__}")


def _check_float(field: str, value: Any, low: float, high: float, low_in: bool, high_in: bool,
                 optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{field}={value!r} must be a real number{' or None' if optional else ''}, "
                        f"got {type(value).__name__}")
    inside = (value >= low if low_in else value > low) and (value <= high if high_in else value < high)
    if not math.isfinite(value) or not inside:
        bounds = f"{'[' if low_in else '('}{low}, {high}{']' if high_in else ')'}"
        raise ValueError(f"{field}={value!r} must be a finite number in {bounds}{' (or None)' if optional else ''}")


def _check_token_id(field: str, value: Any, vocab_size: int) -> None:
    values = value if isinstance(value, (list, tuple)) and field == "eos_token_id" else [value]
    for item in values:
        if item is None and len(values) == 1:
            continue
        if not isinstance(item, int) or isinstance(item, bool):
            raise TypeError(f"{field}={value!r} must be None or an integer token id"
                            f"{' (or a list of them)' if field == 'eos_token_id' else ''}")
        if not 0 <= item < vocab_size:
            raise ValueError(f"{field}={value!r} must be a token id within the vocabulary: 0 <= id < "
                             f"vocab_size={vocab_size}")


def check_types(config) -> None:
    """Type, range and finiteness of every scalar field (those a subclass does not declare are skipped)."""
    present = config.__dict__
    for name, minimum, optional in INT_FIELDS:
        if name in present:
            _check_int(name, present[name], minimum, optional)
    for name, optional in BOOL_FIELDS:
        if name in present:
            _check_bool(name, present[name], optional)
    for name, *bounds in FLOAT_FIELDS:
        if name in present:
            _check_float(name, present[name], *bounds)
    for name in STRING_FIELDS:
        value = present.get(name)
        if name in present and value is not None and not isinstance(value, str):
            raise TypeError(f"{name}={value!r} must be a string, got {type(value).__name__}")
    for name in TOKEN_ID_FIELDS:
        if name in present:
            _check_token_id(name, present[name], math.inf)

def validate_elements(config) -> None:
    """Reject impossible element combinations with a message naming the field, value and allowed values."""
    check_types(config)
    for name in ("num_key_value_heads", "embedding_size", "num_hidden_groups", "head_dim"):
        if getattr(config, name) is None:
            raise ValueError(f"{name}=None: set it, or build the config again to derive it")
    _allowed("position_embedding_type", config.position_embedding_type, POSITION_EMBEDDING_TYPES)
    _allowed("norm_type", config.norm_type, NORM_TYPES)
    _allowed("norm_position", config.norm_position, NORM_POSITIONS)
    _allowed("ffn_type", config.ffn_type, FFN_TYPES)
    _allowed("classifier_pooling", config.classifier_pooling, CLASSIFIER_POOLINGS)
    _allowed("moe_implementation", config.moe_implementation, MOE_IMPLEMENTATIONS)
    _allowed("expert_layout", config.expert_layout, EXPERT_LAYOUTS)
    _allowed("qkv_layout", config.qkv_layout, QKV_LAYOUTS)
    _allowed("router_type", config.router_type, ROUTER_TYPES)
    for name in ("hidden_act", "classifier_activation", "mlm_head_act"):
        value = getattr(config, name)
        if value is not None and value not in ACT2FN:
            raise ValueError(f"{name}={value!r} is not a transformers activation; allowed: {sorted(ACT2FN)}")
    if config.num_attention_heads % config.num_key_value_heads:
        raise ValueError(
            f"num_attention_heads={config.num_attention_heads} must be divisible by "
            f"num_key_value_heads={config.num_key_value_heads} (1 = MQA, a divisor = GQA, equal = MHA)"
        )
    if config.num_hidden_layers % config.num_hidden_groups:
        raise ValueError(
            f"num_hidden_groups={config.num_hidden_groups} must divide num_hidden_layers={config.num_hidden_layers}"
        )
    check_buildable(config)
    for name in TOKEN_ID_FIELDS:
        if hasattr(config, name):
            _check_token_id(name, getattr(config, name), config.vocab_size)
    validate_positions(config)
    validate_experts(config)
    validate_qkv_layout(config)
    validate_attention_kind(config)
    validate_linear_attention(config)
    validate_sparse_attention(config)
    validate_relative_xl(config)
    _allowed("initializer_scheme", config.initializer_scheme, INITIALIZER_SCHEMES)
    if config.token_types_in_word_embeddings and config.type_vocab_size:
        raise ValueError(f"token_types_in_word_embeddings=True reads token types from the word table: "
                         f"type_vocab_size={config.type_vocab_size} must be 0")

def check_buildable(config) -> None:
    """Refuse sizes no machine can build (and that would make construction loop for hours)."""
    for name in ("num_hidden_layers", "num_decoder_layers", "num_experts"):
        value = getattr(config, name, 0) or 0
        if value > MAX_COUNT:
            raise ValueError(f"{name}={value} exceeds {MAX_COUNT}: a model with that many cannot be built")
    attention = config.hidden_size * config.head_dim * 2 * (config.num_attention_heads + config.num_key_value_heads)
    ffn = (3 if config.ffn_type == "glu" else 2) * config.hidden_size * config.intermediate_size * max(1, config.num_experts)
    layers = config.num_hidden_groups + 2 * (getattr(config, "num_decoder_layers", 0) or 0)
    tables = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * config.embedding_size
    total = tables + config.vocab_size * config.hidden_size + layers * (attention + ffn)
    if total > MAX_ELEMENTS:
        raise ValueError(
            f"vocab_size={config.vocab_size}, hidden_size={config.hidden_size}, intermediate_size="
            f"{config.intermediate_size}, num_hidden_layers={config.num_hidden_layers}, max_position_embeddings="
            f"{config.max_position_embeddings}, head_dim={config.head_dim}: about {total:.3g} parameters, more than "
            f"the {MAX_ELEMENTS:.3g} that can be built"
        )

def validate_positions(config) -> None:
    kind = config.position_embedding_type
    if kind == "rope":
        validate_rope(config)
    if kind not in ABSOLUTE_POSITION_TYPES and (config.position_offset or config.pad_aware_positions):
        raise ValueError(
            f"position_offset/pad_aware_positions only apply to absolute positions "
            f"{ABSOLUTE_POSITION_TYPES}, not position_embedding_type={kind!r}"
        )
    if config.pad_aware_positions and config.pad_token_id is None:
        raise ValueError("pad_aware_positions=True needs pad_token_id to be set")
    if kind in ABSOLUTE_POSITION_TYPES:
        start = config.position_offset + (config.pad_token_id + 1 if config.pad_aware_positions else 0)
        if start >= config.max_position_embeddings:
            raise ValueError(
                f"max_position_embeddings={config.max_position_embeddings} leaves no room after the first position "
                f"id {start} (position_offset={config.position_offset}"
                + (f" + pad_token_id={config.pad_token_id} + 1, pad_aware_positions=True)" if config.pad_aware_positions
                   else ")")
            )
    if kind == "relative_bias":
        buckets, distance = config.relative_attention_num_buckets, config.relative_attention_max_distance
        if buckets < 4:
            raise ValueError(
                f"relative_attention_num_buckets={buckets} must be >= 4 (T5's bucketing gives half the buckets to "
                "each direction and half of those to exact distances)"
            )
        if distance <= buckets // 2:
            raise ValueError(
                f"relative_attention_max_distance={distance} must exceed relative_attention_num_buckets // 2 = "
                f"{buckets // 2} (the distances with exact buckets)"
            )

def validate_rope(config) -> None:
    params = getattr(config, "rope_parameters", None)
    if not isinstance(params, dict):
        raise ValueError(f"position_embedding_type='rope' needs rope_parameters, a dict with 'rope_type' and "
                         f"'rope_theta'; got {params!r}")
    rope_type = params.get("rope_type")
    _allowed("rope_parameters['rope_type']", rope_type, ("default", *ROPE_INIT_FUNCTIONS))
    _check_float("rope_parameters['rope_theta']", params.get("rope_theta"), 0.0, math.inf, False, False, False)
    factor = params.get("partial_rotary_factor", 1.0)
    _check_float("rope_parameters['partial_rotary_factor']", factor, 0.0, 1.0, False, True, False)
    rotary = int(config.head_dim * factor)
    if rotary < 2 or rotary % 2:
        source = (f" (hidden_size={config.hidden_size} / num_attention_heads={config.num_attention_heads})"
                  if "head_dim" in config.__dict__.get("_derived", ()) else "")
        raise ValueError(
            f"position_embedding_type='rope' needs an even head dimension: head_dim={config.head_dim}{source} x "
            f"rope_parameters['partial_rotary_factor']={factor} = {rotary} rotated features (even, >= 2 needed)"
        )
    if rope_type == "default":
        return
    try:
        inv_freq, scaling = ROPE_INIT_FUNCTIONS[rope_type](config, None)
    except Exception as error:  # each rope type reads its own keys; any failure here is a config error
        raise ValueError(f"rope_parameters={params!r} cannot build {rope_type!r} RoPE: "
                         f"{type(error).__name__}: {error}") from error
    if not torch.isfinite(inv_freq).all() or not math.isfinite(float(scaling)):
        raise ValueError(f"rope_parameters={params!r} gives non-finite {rope_type!r} RoPE frequencies")

def validate_qkv_layout(config) -> None:
    """A fused projection needs queries, keys and values read from the same states (Transformer-XL's memory rows
    are projected with the segment and their queries dropped)."""
    if config.qkv_layout != "fused":
        return
    if getattr(config, "attention_type", "softmax") == "linformer":
        raise ValueError("qkv_layout='fused' needs queries, keys and values projected from the same states: "
                         "attention_type='linformer' projects keys/values from compressed ones (use "
                         "qkv_layout='separate')")


def validate_experts(config) -> None:
    if config.num_experts == 0:
        return
    if config.num_experts < 2:
        raise ValueError(f"num_experts={config.num_experts} must be 0 (dense) or >= 2")
    if not 1 <= config.num_experts_per_tok <= config.num_experts:
        raise ValueError(
            f"num_experts_per_tok={config.num_experts_per_tok} must be between 1 and num_experts={config.num_experts}"
        )
    if config.moe_layer_frequency > config.num_hidden_layers:
        raise ValueError(
            f"moe_layer_frequency={config.moe_layer_frequency} exceeds num_hidden_layers={config.num_hidden_layers}: "
            "no layer would use experts"
        )
    if config.expert_layout == "separate" and config.moe_implementation != "eager":
        raise ValueError(
            f"expert_layout='separate' runs one module per expert (the eager loop): moe_implementation="
            f"{config.moe_implementation!r} needs expert_layout='stacked' (or set moe_implementation='eager')"
        )
    if config.router_type == "switch" and config.num_experts_per_tok != 1:
        raise ValueError(
            f"router_type='switch' routes top-1: num_experts_per_tok={config.num_experts_per_tok} must be 1"
        )
    if config.expert_capacity is not None and config.expert_capacity_factor is not None:
        raise ValueError(
            f"expert_capacity={config.expert_capacity} and expert_capacity_factor={config.expert_capacity_factor} "
            "are exclusive: set one of them (or neither, for no capacity limit)"
        )
    if (config.expert_capacity_factor is not None or config.expert_capacity is not None) and \
            config.num_experts_per_tok != 1:
        raise ValueError(
            f"expert_capacity_factor={config.expert_capacity_factor} / expert_capacity={config.expert_capacity} "
            f"(token dropping) needs top-1 routing, got num_experts_per_tok={config.num_experts_per_tok}"
        )
