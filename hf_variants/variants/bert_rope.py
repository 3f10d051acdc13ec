"""BERT-RoPE: an encoder ablation with no native counterpart — BERT's encoder and WordPiece tokenizer with rotary
positions (no position table), pre-RMSNorm and a SwiGLU feed-forward without biases (the elements modern decoders
use), pretrained with plain MLM. Declared the one-file way: this module is the whole variant (see
docs/adding_a_variant.md)."""

from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvBertTokenizer
from .spec import declare_variant


class HfvBertRopeConfig(EncoderConfig):
    model_type = "hfv_bert_rope"
    position_embedding_type: str = "rope"
    norm_type: str = "rmsnorm"
    norm_position: str = "pre"
    layer_norm_eps: float = 1e-6
    ffn_type: str = "glu"
    hidden_act: str = "silu"
    attention_bias: bool = False
    mlp_bias: bool = False
    pretraining_heads: str = "mlm"


SPEC = declare_variant(
    "bert_rope", "encoder", HfvBertRopeConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvBertTokenizer, objective="mlm",
    description="BERT-RoPE: BERT with rotary positions, pre-RMSNorm and a SwiGLU feed-forward (an ablation)",
    test_config={},
)
