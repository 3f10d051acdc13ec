"""BERT (Devlin et al. 2019): post-norm encoder, learned positions, token types, MLM + next-sentence prediction."""

from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvBertTokenizer
from .bert_maps import BERT_CONFIG_FIELDS, BERT_EMBEDDING_RULES, BERT_LAYER_RULES, ENCODER_ONLY, encoder_native_requires
from .keymap import KeyMap
from .spec import NativeMapping, declare_variant


class HfvBertConfig(EncoderConfig):
    model_type = "hfv_bert"
    pretraining_heads: str = "mlm+nsp"


NATIVE = NativeMapping(
    model_type="bert",
    class_prefix="Bert",
    key_map=KeyMap(
        native_prefix="bert",
        base_rules=BERT_EMBEDDING_RULES + BERT_LAYER_RULES + (("pooler.dense", "pooler.dense"),),
        head_rules=(
            ("cls.predictions.transform.dense", "lm_head.dense"),
            ("cls.predictions.transform.LayerNorm", "lm_head.norm"),
            ("cls.predictions.decoder", "lm_head.decoder"),
            ("cls.predictions.bias", "lm_head.decoder.bias"),
            ("cls.seq_relationship", "seq_relationship"),
            ("classifier", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
    ),
    config_fields=BERT_CONFIG_FIELDS,
    requires=encoder_native_requires(
        position_embedding_type="learned", position_offset=0, pad_aware_positions=False,
        embedding_size=lambda c: c.hidden_size, num_hidden_groups=lambda c: c.num_hidden_layers,
        mlm_head_act=None, classifier_pooling="pooler"),
    native_requires=ENCODER_ONLY,
)

SPEC = declare_variant(
    "bert", "encoder", HfvBertConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvBertTokenizer, objective="mlm+nsp", native=NATIVE,
    description="BERT: bidirectional post-norm encoder with MLM and next-sentence prediction",
    test_config={},
)
