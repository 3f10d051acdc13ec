"""The Transformer (Vaswani et al. 2017), base model: post-norm LayerNorm, sinusoidal positions added to token
embeddings scaled by sqrt(d_model), ReLU MLP, one embedding matrix shared by source, target and output projection,
and dropout 0.1 on embeddings and every sublayer output. No native transformers counterpart: its reference is
`torch.nn.Transformer` (see tests/encoder_decoder/test_transformer_reference.py)."""

from ..families.encoder_decoder import SEQ2SEQ_HEADS, EncoderDecoderConfig
from ..tokenization import HfvTransformerTokenizer
from .spec import declare_variant


class HfvTransformerConfig(EncoderDecoderConfig):
    model_type = "hfv_transformer"
    vocab_size: int = 37000  # the shared source/target BPE vocabulary of the WMT En-De runs
    hidden_size: int = 512
    num_hidden_layers: int = 6
    num_decoder_layers: int | None = 6
    num_attention_heads: int = 8
    intermediate_size: int = 2048
    hidden_act: str = "relu"
    max_position_embeddings: int = 1024
    position_embedding_type: str = "sinusoidal"
    scale_embedding: bool = True
    norm_position: str = "post"
    layer_norm_eps: float = 1e-5
    embedding_norm: bool | None = False  # the paper normalises sublayer outputs only
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.0  # the paper's dropout is on sublayer outputs and embeddings only
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] | None = 2
    decoder_start_token_id: int | None = 1
    tie_word_embeddings: bool = True
    initializer_scheme: str = "xavier"  # torch.nn.Transformer's


SPEC = declare_variant(
    "transformer", "encoder-decoder", HfvTransformerConfig, SEQ2SEQ_HEADS, globals(),
    tokenizer=HfvTransformerTokenizer, objective="seq2seq-translation",
    description="The Transformer: the 2017 post-norm encoder-decoder for translation",
    test_config={},
)
