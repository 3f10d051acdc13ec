"""Switch Transformer (Fedus et al. 2022): T5 v1.0 elements whose every other feed-forward is a top-1 mixture of
experts with a per-sequence expert capacity (overflowing tokens skip the layer through the residual), trained with
span corruption plus the Switch balancing loss and the router z-loss. Defaults follow `switch-base-8`."""

from __future__ import annotations

import re

from ..families.encoder_decoder import SEQ2SEQ_HEADS
from ..tokenization import HfvSwitchTokenizer
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant
from .t5 import HfvT5Config
from .t5_maps import T5_CONFIG_FIELDS, T5_KEY_MAP, T5_NATIVE, _stack_rules


class HfvSwitchConfig(HfvT5Config):
    model_type = "hfv_switch"
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    head_dim: int | None = 64
    intermediate_size: int = 3072
    num_experts: int = 8
    num_experts_per_tok: int = 1
    router_type: str = "switch"
    expert_capacity: int | None = 64
    moe_layer_frequency: int = 2  # layers 1, 3, 5, ... of each stack are sparse
    router_aux_loss_coef: float = 0.001
    router_z_loss_coef: float = 0.001
    router_jitter_noise: float = 0.01
    # native Switch's per-expert modules (idle experts get no gradient and no AdamW step), run by the expert loop
    expert_layout: str = "separate"
    moe_implementation: str = "eager"


def _switch_stack_rules(stack: str, is_decoder: bool) -> tuple[tuple[str, str], ...]:
    """T5's rules with the feed-forward renamed: native `mlp.wi/wo` (dense) and `mlp.router.classifier` +
    `mlp.experts.expert_{e}.wi/wo` (sparse: our separate experts `mlp.experts.{e}.up_proj/down_proj`). Stacked
    experts keep the bare `mlp.experts` rule and are unstacked after renaming by `_unstack_experts`."""
    native, ours = f"{stack}.block.{{i}}.layer.{2 if is_decoder else 1}.mlp", f"{stack}.layers.{{i}}.mlp"
    rules = tuple(rule for rule in _stack_rules(stack, is_decoder) if ".DenseReluDense." not in rule[0])
    return rules + (
        (f"{native}.wi", f"{ours}.up_proj"),
        (f"{native}.wo", f"{ours}.down_proj"),
        (f"{native}.router.classifier", f"{ours}.gate"),
        (f"{native}.experts.expert_{{e}}.wi", f"{ours}.experts.{{e}}.up_proj"),
        (f"{native}.experts.expert_{{e}}.wo", f"{ours}.experts.{{e}}.down_proj"),
        (f"{native}.experts", f"{ours}.experts"),
    )


_OUR_STACKED = re.compile(r"^(?P<prefix>.*\.mlp\.experts)\.(?P<proj>up_proj|down_proj)$")
_NATIVE_PROJ = {"up_proj": "wi", "down_proj": "wo"}


def _unstack_experts(state: dict) -> dict:
    """Stacked experts (`expert_layout="stacked"`, native-named after renaming: `experts.up_proj` [E, out, in]) ->
    native's `experts.expert_{e}.wi/wo.weight`. Separate experts were renamed one to one."""
    out = {}
    for key, value in state.items():
        match = _OUR_STACKED.match(key)
        if match is None:
            out[key] = value
            continue
        for e, weight in enumerate(value.unbind(0)):
            out[f"{match['prefix']}.expert_{e}.{_NATIVE_PROJ[match['proj']]}.weight"] = weight.clone()
    return out


def _native_layout(state: dict) -> dict:
    """Native keys convert by renaming alone (into separate experts, `from_native`'s layout)."""
    return state


SWITCH_KEY_MAP = KeyMap(
    native_prefix="switch_transformers",
    native_prefix_for={"ForConditionalGeneration": ""},
    base_rules=(("shared", "shared"),) + _switch_stack_rules("encoder", False) + _switch_stack_rules("decoder", True),
    head_rules=(("lm_head", "lm_head"),),
    ignore_native=T5_KEY_MAP.ignore_native,
    state_transforms=((_native_layout, _unstack_experts),),
)


def _native_sparse_layers(layers: int, frequency: int = 2):
    """Native builds `num_layers // num_sparse` as its sparse step and makes layers `i % step == 1` (every layer
    for step 1) sparse; with `layers // 2` sparse layers that is our frequency-2 pattern (layers 1, 3, ...) for
    every depth >= 2, with `layers` sparse layers our frequency 1."""
    return layers if frequency == 1 else layers // 2


def _native_frequency(native: dict) -> int:
    """Our moe_layer_frequency for a native config: 1 when its encoder is all sparse, else 2 (any other native
    pattern is refused by `native_requires`)."""
    return 1 if native["num_sparse_encoder_layers"] == native["num_layers"] else 2


SWITCH_CONFIG_FIELDS = tuple(
    f for f in T5_CONFIG_FIELDS
    if f != "scale_decoder_outputs" and (isinstance(f, str) or f.native != "feed_forward_proj")
) + (
    "num_experts", "expert_capacity", "router_jitter_noise", "router_z_loss_coef", "router_aux_loss_coef",
    ConfigField("dense_act_fn", "hidden_act"),
    # native rescales the decoder output exactly when the head is tied (`requires` keeps the two equal)
    ConfigField("tie_word_embeddings", "scale_decoder_outputs"),
    # Functions of the depth and our frequency (1 or 2); `ours_overrides` reads the frequency back and
    # `native_requires` refuses any other native pattern.
    ConfigField("num_sparse_encoder_layers", "moe_layer_frequency", to_ours=lambda _: 2,
                native_from_config=lambda c: _native_sparse_layers(c.num_hidden_layers, c.moe_layer_frequency)),
    ConfigField("num_sparse_decoder_layers", "moe_layer_frequency", to_ours=lambda _: 2,
                native_from_config=lambda c: _native_sparse_layers(c.num_decoder_layers, c.moe_layer_frequency)),
)

NATIVE = NativeMapping(
    model_type="switch_transformers",
    class_prefix="SwitchTransformers",
    key_map=SWITCH_KEY_MAP,
    config_fields=SWITCH_CONFIG_FIELDS,
    requires={
        **{k: v for k, v in T5_NATIVE.requires.items() if k != "num_experts"},
        "ffn_type": "mlp",
        "num_experts": lambda c: max(c.num_experts, 2),
        "num_experts_per_tok": 1,
        "router_type": "switch",
        # every other layer sparse (switch-base) or every layer
        "moe_layer_frequency": lambda c: c.moe_layer_frequency if c.moe_layer_frequency in (1, 2) else 2,
        # native counts capacity in tokens per sequence and always applies one
        "expert_capacity": lambda c: c.expert_capacity if c.expert_capacity is not None else "an integer",
        "expert_capacity_factor": None,
        # native rescales the decoder output exactly when the head is tied
        "scale_decoder_outputs": lambda c: c.tie_word_embeddings,
    },
    ours_overrides={"type_vocab_size": 0, "moe_layer_frequency": _native_frequency},
    native_requires={
        "router_bias": False,
        "router_dtype": "float32",
        "num_sparse_encoder_layers": lambda n: _native_sparse_layers(n["num_layers"], _native_frequency(n)),
        "num_sparse_decoder_layers": lambda n: _native_sparse_layers(n["num_decoder_layers"], _native_frequency(n)),
    },
)

SPEC = declare_variant(
    "switch", "encoder-decoder", HfvSwitchConfig, SEQ2SEQ_HEADS, globals(),
    tokenizer=HfvSwitchTokenizer, objective="span-corruption", native=NATIVE,
    description="Switch Transformer: T5 v1.0 with top-1 mixture-of-experts feed-forwards in every other layer",
    test_config={"head_dim": 8, "num_experts": 4, "expert_capacity": 4, "router_jitter_noise": 0.0},
)
