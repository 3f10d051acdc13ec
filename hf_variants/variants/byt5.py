"""ByT5 (Xue et al. 2022): T5 v1.1 elements over raw UTF-8 bytes (256 + 3 specials), with an encoder three
times deeper than the decoder. Natively it is a `t5` model; convert with `from_native` via hfv_t5, or pick this
variant's classes explicitly."""

from ..families.encoder_decoder import SEQ2SEQ_HEADS
from ..tokenization import HfvByT5Tokenizer
from .spec import declare_variant
from .t5 import HfvT5Config
from .t5_maps import T5_NATIVE


class HfvByT5Config(HfvT5Config):
    model_type = "hfv_byt5"
    vocab_size: int = 384  # 3 specials + 256 bytes, padded like the released checkpoints
    hidden_size: int = 1472
    num_hidden_layers: int = 12
    num_decoder_layers: int | None = 4
    num_attention_heads: int = 6
    head_dim: int | None = 64
    intermediate_size: int = 3584
    ffn_type: str = "glu"
    hidden_act: str = "gelu_new"
    tie_word_embeddings: bool = False
    scale_decoder_outputs: bool = False


SPEC = declare_variant(
    "byt5", "encoder-decoder", HfvByT5Config, SEQ2SEQ_HEADS, globals(),
    tokenizer=HfvByT5Tokenizer, objective="span-corruption", native=T5_NATIVE,
    description="ByT5: token-free T5 v1.1 on UTF-8 bytes with a deep encoder and shallow decoder",
    test_config={"head_dim": 8, "num_hidden_layers": 3, "num_decoder_layers": 2},
)
