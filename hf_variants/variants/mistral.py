"""Mistral (Jiang et al. 2023): LLaMA's architecture with sliding-window attention and GQA by default."""

from ..families.decoder import DECODER_HEADS, DecoderConfig
from .decoder_maps import (
    LLAMA_BASE_RULES,
    LLAMA_CONFIG_FIELDS,
    LLAMA_HEAD_RULES,
    LLAMA_HEAD_RULES_FOR,
    LLAMA_MLP_RULES,
    llama_native_requires,
)
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant


class HfvMistralConfig(DecoderConfig):
    model_type = "hfv_mistral"
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = 8
    max_position_embeddings: int = 131072
    sliding_window: int | None = 4096
    hidden_act: str = "silu"
    position_embedding_type: str = "rope"
    norm_type: str = "rmsnorm"
    layer_norm_eps: float = 1e-6
    ffn_type: str = "glu"
    attention_bias: bool = False
    mlp_bias: bool = False
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    pad_token_id: int | None = None
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    tie_word_embeddings: bool = False


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
