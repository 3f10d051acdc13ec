"""Mistral (Jiang et al. 2023): LLaMA's architecture with sliding-window attention and GQA by default."""

from ..families.decoder import DECODER_HEADS
from .decoder_maps import (
    LLAMA_BASE_RULES,
    LLAMA_CONFIG_FIELDS,
    LLAMA_HEAD_RULES,
    LLAMA_HEAD_RULES_FOR,
    LLAMA_MLP_RULES,
    llama_native_requires,
)
from .keymap import KeyMap
from .llama import HfvLlamaConfig
from .spec import ConfigField, NativeMapping, declare_variant


class HfvMistralConfig(HfvLlamaConfig):
    """LLaMA's elements; Mistral-7B's sizes, GQA (8 KV heads) and a 4096-token sliding window."""

    model_type = "hfv_mistral"
    intermediate_size: int = 14336
    num_key_value_heads: int | None = 8
    max_position_embeddings: int = 131072
    sliding_window: int | None = 4096


NATIVE = NativeMapping(
    model_type="mistral",
    class_prefix="Mistral",
    key_map=KeyMap(
        native_prefix="model",
        base_rules=LLAMA_BASE_RULES + LLAMA_MLP_RULES,
        head_rules=LLAMA_HEAD_RULES,
        head_rules_for=LLAMA_HEAD_RULES_FOR,
    ),
    config_fields=LLAMA_CONFIG_FIELDS + (
        "sliding_window",
        ConfigField("rms_norm_eps", "layer_norm_eps"),
        ConfigField("attention_dropout", "attention_probs_dropout_prob"),
    ),
    requires=llama_native_requires(attention_bias=False, mlp_bias=False),
)

SPEC = declare_variant(
    "mistral", "decoder", HfvMistralConfig, DECODER_HEADS, globals(),
    tokenizer="bpe-byte-fallback", objective="causal-lm", native=NATIVE,
    description="Mistral: LLaMA-style decoder with sliding-window attention and grouped-query attention",
)
