"""T5 (Raffel et al. 2020): pre-norm RMS encoder-decoder with bucketed relative position bias and no attention
scaling; ReLU MLP (v1.0) by default, gated-GELU with `ffn_type="glu", hidden_act="gelu_new"` (v1.1)."""

from ..families.encoder_decoder import SEQ2SEQ_HEADS, EncoderDecoderConfig
from ..tokenization import HfvT5Tokenizer
from .spec import declare_variant
from .t5_maps import T5_NATIVE


class HfvT5Config(EncoderDecoderConfig):
    model_type = "hfv_t5"
    vocab_size: int = 32128
    hidden_size: int = 512
    num_hidden_layers: int = 6
    num_attention_heads: int = 8
    head_dim: int | None = 64
    intermediate_size: int = 2048
    hidden_act: str = "relu"
    position_embedding_type: str = "relative_bias"
    norm_type: str = "rmsnorm"
    norm_position: str = "pre"
    layer_norm_eps: float = 1e-6
    attention_bias: bool = False
    mlp_bias: bool = False
    attention_scale: float | None = 1.0  # T5 folds 1/sqrt(d) into its initialisation instead
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    activation_dropout: float = 0.1
    classifier_dropout: float | None = 0.0
    # Mesh-TensorFlow's fan-in init, scaled by initializer_factor (initializer_range is not used).
    initializer_scheme: str = "fan_in"
    initializer_factor: float = 1.0
    embedding_padding_idx: bool = False  # T5's pad id is its decoder start token: that row must learn
    pad_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 1
    decoder_start_token_id: int | None = 0
    tie_word_embeddings: bool = True
    scale_decoder_outputs: bool = True  # v1.0's tied head sees d_model**-0.5 scaled decoder states


SPEC = declare_variant(
    "t5", "encoder-decoder", HfvT5Config, SEQ2SEQ_HEADS, globals(),
    tokenizer=HfvT5Tokenizer, objective="span-corruption", native=T5_NATIVE,
    description="T5: text-to-text pre-norm encoder-decoder with relative position bias",
    test_config={"head_dim": 8},
)
