"""ALBERT (Lan et al. 2020): factorized embeddings, one set of layer weights shared by all layers, MLM + SOP."""

from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvAlbertTokenizer
from .bert_maps import BERT_CONFIG_FIELDS, BERT_EMBEDDING_RULES, encoder_native_requires
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant


class HfvAlbertConfig(EncoderConfig):
    """Defaults: ALBERT-base v2 (embeddings 128, hidden 768, 12 layers sharing one group, no dropout)."""

    model_type = "hfv_albert"
    vocab_size: int = 30000
    embedding_size: int | None = 128
    num_hidden_groups: int | None = 1
    hidden_act: str = "gelu_new"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    ffn_output_dropout: bool = False  # native AlbertLayer adds the feed-forward output undropped
    classifier_dropout: float | None = 0.1  # native classifier_dropout_prob (sequence order and classifiers)
    bos_token_id: int | None = 2
    eos_token_id: int | list[int] | None = 3
    pretraining_heads: str = "mlm+sop"


_LAYER = "encoder.albert_layer_groups.{i}.albert_layers.0"

NATIVE = NativeMapping(
    model_type="albert",
    class_prefix="Albert",
    key_map=KeyMap(
        native_prefix="albert",
        base_rules=BERT_EMBEDDING_RULES + (
            ("encoder.embedding_hidden_mapping_in", "embeddings.projection"),
            (f"{_LAYER}.attention.query", "encoder.layers.{i}.self_attn.q_proj"),
            (f"{_LAYER}.attention.key", "encoder.layers.{i}.self_attn.k_proj"),
            (f"{_LAYER}.attention.value", "encoder.layers.{i}.self_attn.v_proj"),
            (f"{_LAYER}.attention.dense", "encoder.layers.{i}.self_attn.o_proj"),
            (f"{_LAYER}.attention.LayerNorm", "encoder.layers.{i}.self_attn_norm"),
            (f"{_LAYER}.ffn", "encoder.layers.{i}.mlp.up_proj"),
            (f"{_LAYER}.ffn_output", "encoder.layers.{i}.mlp.down_proj"),
            (f"{_LAYER}.full_layer_layer_norm", "encoder.layers.{i}.mlp_norm"),
            ("pooler", "pooler.dense"),
        ),
        head_rules=(
            ("predictions.dense", "lm_head.dense"),
            ("predictions.LayerNorm", "lm_head.norm"),
            ("predictions.decoder", "lm_head.decoder"),
            ("predictions.bias", "lm_head.decoder.bias"),
            ("sop_classifier.classifier", "seq_relationship"),
            ("classifier", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
    ),
    config_fields=tuple(f for f in BERT_CONFIG_FIELDS if f != "classifier_dropout") + (
        "embedding_size", "num_hidden_groups",
        # native needs a number: ours None means hidden_dropout_prob, which native token classification also uses
        ConfigField("classifier_dropout_prob", "classifier_dropout",
                    native_from_config=lambda c: c.hidden_dropout_prob if c.classifier_dropout is None
                    else c.classifier_dropout)),
    requires=encoder_native_requires(
        position_embedding_type="learned", position_offset=0, pad_aware_positions=False, mlm_head_act=None,
        classifier_pooling="pooler", ffn_output_dropout=False),
    native_overrides={"inner_group_num": 1},
    native_requires={"inner_group_num": 1},
)

SPEC = declare_variant(
    "albert", "encoder", HfvAlbertConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvAlbertTokenizer, objective="mlm+sop", native=NATIVE,
    description="ALBERT: BERT with factorized embeddings and cross-layer parameter sharing, MLM + sentence order",
    test_config={"embedding_size": 16},
)
