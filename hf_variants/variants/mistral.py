"""Mistral (Jiang et al. 2023): LLaMA's architecture with sliding-window attention and GQA by default."""

from ..families.decoder import DECODER_HEADS
from ..tokenization import HfvMistralTokenizer
from .decoder_maps import (
    LLAMA_CONFIG_FIELDS,
    llama_key_map,
    llama_native_requires,
)
from .llama import HfvLlamaConfig
from .spec import NativeMapping, declare_variant


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
    key_map=llama_key_map(),
    config_fields=LLAMA_CONFIG_FIELDS + ("sliding_window",),
    requires=llama_native_requires(attention_bias=False, mlp_bias=False),
)

SPEC = declare_variant(
    "mistral", "decoder", HfvMistralConfig, DECODER_HEADS, globals(),
    tokenizer=HfvMistralTokenizer, objective="causal-lm", native=NATIVE,
    description="Mistral: LLaMA-style decoder with sliding-window attention and grouped-query attention",
    test_config={"num_key_value_heads": 1, "sliding_window": 4, "pad_token_id": 0, "bos_token_id": 1,
                 "eos_token_id": 2},
)
