"""RoBERTa (Liu et al. 2019): BERT's architecture, byte-level BPE, dynamic MLM only, positions offset past padding."""

from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvRobertaTokenizer
from .bert_maps import BERT_CONFIG_FIELDS, BERT_EMBEDDING_RULES, BERT_LAYER_RULES, ENCODER_ONLY, encoder_native_requires
from .keymap import KeyMap
from .spec import NativeMapping, declare_variant


class HfvRobertaConfig(EncoderConfig):
    model_type = "hfv_roberta"
    vocab_size: int = 50265
    max_position_embeddings: int = 514
    type_vocab_size: int = 1
    layer_norm_eps: float = 1e-5
    pad_token_id: int | None = 1
    bos_token_id: int | None = 0
    eos_token_id: int | list[int] | None = 2
    pad_aware_positions: bool = True
    mlm_head_act: str | None = "gelu"
    classifier_pooling: str = "head"
    classifier_activation: str = "tanh"
    pretraining_heads: str = "mlm"
    add_pooling_layer: bool | None = True  # native RobertaModel has a pooler
    multiple_choice_pooling: str | None = "pooler"  # native multiple choice reads it


NATIVE = NativeMapping(
    model_type="roberta",
    class_prefix="Roberta",
    key_map=KeyMap(
        native_prefix="roberta",
        base_rules=BERT_EMBEDDING_RULES + BERT_LAYER_RULES + (("pooler.dense", "pooler.dense"),),
        head_rules=(
            ("lm_head.dense", "lm_head.dense"),
            ("lm_head.layer_norm", "lm_head.norm"),
            ("lm_head.decoder", "lm_head.decoder"),
            ("lm_head.bias", "lm_head.decoder.bias"),
            ("classifier.dense", "classifier.dense"),
            ("classifier.out_proj", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
        head_rules_for={
            "ForTokenClassification": (("classifier", "classifier.out_proj"),),
            "ForMultipleChoice": (("classifier", "classifier.out_proj"),),
        },
    ),
    config_fields=BERT_CONFIG_FIELDS,
    requires=encoder_native_requires(
        position_embedding_type="learned", position_offset=0, pad_aware_positions=True,
        embedding_size=lambda c: c.hidden_size, num_hidden_groups=lambda c: c.num_hidden_layers,
        mlm_head_act="gelu", classifier_pooling="head", classifier_activation="tanh",
        multiple_choice_pooling="pooler"),
    native_requires=ENCODER_ONLY,
)

SPEC = declare_variant(
    "roberta", "encoder", HfvRobertaConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvRobertaTokenizer, objective="dynamic-mlm", native=NATIVE,
    description="RoBERTa: BERT trained with dynamic MLM on byte-level BPE, no next-sentence prediction",
    test_config={},
)
