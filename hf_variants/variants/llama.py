"""LLaMA (Touvron et al. 2023): pre-RMSNorm decoder with RoPE, SwiGLU and grouped-query attention, no biases."""

from ..families.decoder import DECODER_HEADS, DecoderConfig
from ..tokenization import HfvLlamaTokenizer
from .decoder_maps import (
    LLAMA_CONFIG_FIELDS,
    llama_key_map,
    llama_native_requires,
)
from .spec import NativeMapping, declare_variant


class HfvLlamaConfig(DecoderConfig):
    model_type = "hfv_llama"
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    max_position_embeddings: int = 2048
    hidden_act: str = "silu"
    position_embedding_type: str = "rope"  # rope_parameters default: {"rope_type": "default", "rope_theta": 1e4}
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
    model_type="llama",
    class_prefix="Llama",
    key_map=llama_key_map(native_prefix_for={"ForQuestionAnswering": "transformer"}),
    config_fields=LLAMA_CONFIG_FIELDS + ("attention_bias", "mlp_bias"),
    requires=llama_native_requires(sliding_window=None),
)

SPEC = declare_variant(
    "llama", "decoder", HfvLlamaConfig, DECODER_HEADS, globals(),
    tokenizer=HfvLlamaTokenizer, objective="causal-lm", native=NATIVE,
    description="LLaMA: pre-RMSNorm decoder with RoPE, SwiGLU and grouped-query attention",
    test_config={"num_key_value_heads": 2, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2},
)
