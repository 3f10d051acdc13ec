"""Mixtral (Jiang et al. 2024): Mistral's LLaMA-style decoder with every feed-forward a top-2-of-8 SwiGLU mixture."""

from ..families.decoder import DECODER_HEADS
from ..tokenization import HfvMixtralTokenizer
from .decoder_maps import (
    LLAMA_CONFIG_FIELDS,
    llama_key_map,
    llama_native_requires,
)
from .mistral import HfvMistralConfig
from .spec import ConfigField, NativeMapping, declare_variant


class HfvMixtralConfig(HfvMistralConfig):
    """Mistral's elements without its window; every feed-forward a top-2-of-8 mixture (Mixtral-8x7B sizes)."""

    model_type = "hfv_mixtral"
    sliding_window: int | None = None
    default_theta = 1e6  # rope_theta when rope_parameters does not give one
    layer_norm_eps: float = 1e-5
    num_experts: int = 8
    num_experts_per_tok: int = 2
    router_aux_loss_coef: float = 0.001


# Native Mixtral names the router `mlp.gate` and stores experts as `mlp.experts.gate_up_proj` / `down_proj`: ours too.
MIXTRAL_MOE_RULES = (("layers.{i}.mlp", "decoder.layers.{i}.mlp"),)

NATIVE = NativeMapping(
    model_type="mixtral",
    class_prefix="Mixtral",
    key_map=llama_key_map(MIXTRAL_MOE_RULES),
    config_fields=LLAMA_CONFIG_FIELDS + (
        "sliding_window", "num_experts_per_tok", "router_aux_loss_coef", "router_jitter_noise",
        ConfigField("num_local_experts", "num_experts"),
    ),
    requires=llama_native_requires(
        attention_bias=False, mlp_bias=False,
        # every layer a top-k mixture without capacity or z-loss (0 experts is refused: native needs >= 2)
        num_experts=lambda c: c.num_experts if c.num_experts >= 2 else 8,
        moe_layer_frequency=1, router_type="topk", expert_capacity=None, expert_capacity_factor=None,
        router_z_loss_coef=0.0,
    ),
)

SPEC = declare_variant(
    "mixtral", "decoder", HfvMixtralConfig, DECODER_HEADS, globals(),
    tokenizer=HfvMixtralTokenizer, objective="causal-lm", native=NATIVE,
    description="Mixtral: Mistral-style decoder whose feed-forwards are top-2-of-8 SwiGLU mixtures of experts",
    test_config={"num_key_value_heads": 2, "num_experts": 4, "pad_token_id": 0, "bos_token_id": 1,
                 "eos_token_id": 2},
)
