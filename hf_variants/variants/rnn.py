"""The RNN encoder-decoder baseline (Bahdanau et al. 2015, "Neural Machine Translation by Jointly Learning to Align
and Translate"; Luong et al. 2015, "Effective Approaches to Attention-based Neural Machine Translation"): the
pre-transformer reference point, trained and generated with the same tokenizer, Trainer and `generate` as the
transformer variants. No native transformers counterpart: its reference is the papers' equations
(tests/encoder_decoder/test_rnn.py).

Defaults: a one-layer bidirectional GRU encoder and GRU decoder with Bahdanau's additive score, uniform
[-0.1, 0.1] initialisation and tied input/output embeddings; `rnn_type="lstm"` and `attention_score="general"` /
`"dot"` give Luong's variants (see hf_variants/families/rnn.py for the architecture).
"""

from ..families.rnn import RNN_HEADS, RNNConfig
from ..tokenization import HfvRNNTokenizer
from .spec import declare_variant


class HfvRNNConfig(RNNConfig):
    model_type = "hfv_rnn"


SPEC = declare_variant(
    "rnn", "encoder-decoder", HfvRNNConfig, RNN_HEADS, globals(),
    tokenizer=HfvRNNTokenizer, objective="seq2seq-translation",
    description="RNN baseline: GRU/LSTM encoder-decoder with additive (Bahdanau) or general/dot (Luong) attention",
    test_config=None,  # its own tests: tests/encoder_decoder/test_rnn.py
)
