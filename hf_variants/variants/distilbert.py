"""DistilBERT (Sanh et al. 2019): a 6-layer BERT without token types or pooler, distilled from BERT."""

from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvDistilBertTokenizer
from .bert_maps import encoder_native_requires
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant


class HfvDistilBertConfig(EncoderConfig):
    model_type = "hfv_distilbert"
    num_hidden_layers: int = 6
    type_vocab_size: int = 0
    classifier_pooling: str = "head"
    classifier_activation: str = "relu"
    classifier_dropout: float | None = 0.2
    pretraining_heads: str = "mlm"
    # Native layout: no dropout before pre_classifier; token classification drops out with `dropout`
    # (hidden_dropout_prob, resolved below) and QA with qa_dropout.
    classifier_input_dropout: bool = False
    attention_output_dropout: bool = False
    qa_dropout: float = 0.1

    def __post_init__(self, **kwargs):
        if self.token_classifier_dropout is None:
            self.token_classifier_dropout = self.hidden_dropout_prob
        super().__post_init__(**kwargs)


_LAYER = "transformer.layer.{i}"

NATIVE = NativeMapping(
    model_type="distilbert",
    class_prefix="DistilBert",
    key_map=KeyMap(
        native_prefix="distilbert",
        base_rules=(
            ("embeddings.word_embeddings", "embeddings.word_embeddings"),
            ("embeddings.position_embeddings", "embeddings.position_embeddings"),
            ("embeddings.LayerNorm", "embeddings.norm"),
            (f"{_LAYER}.attention.q_lin", "encoder.layers.{i}.self_attn.q_proj"),
            (f"{_LAYER}.attention.k_lin", "encoder.layers.{i}.self_attn.k_proj"),
            (f"{_LAYER}.attention.v_lin", "encoder.layers.{i}.self_attn.v_proj"),
            (f"{_LAYER}.attention.out_lin", "encoder.layers.{i}.self_attn.o_proj"),
            (f"{_LAYER}.sa_layer_norm", "encoder.layers.{i}.self_attn_norm"),
            (f"{_LAYER}.ffn.lin1", "encoder.layers.{i}.mlp.up_proj"),
            (f"{_LAYER}.ffn.lin2", "encoder.layers.{i}.mlp.down_proj"),
            (f"{_LAYER}.output_layer_norm", "encoder.layers.{i}.mlp_norm"),
        ),
        head_rules=(
            ("vocab_transform", "lm_head.dense"),
            ("vocab_layer_norm", "lm_head.norm"),
            ("vocab_projector", "lm_head.decoder"),
            ("pre_classifier", "classifier.dense"),
            ("classifier", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
    ),
    config_fields=(
        "vocab_size", "max_position_embeddings", "initializer_range", "pad_token_id",
        ConfigField("dim", "hidden_size"), ConfigField("n_layers", "num_hidden_layers"),
        ConfigField("n_heads", "num_attention_heads"), ConfigField("hidden_dim", "intermediate_size"),
        ConfigField("activation", "hidden_act"), ConfigField("dropout", "hidden_dropout_prob"),
        ConfigField("attention_dropout", "attention_probs_dropout_prob"),
        ConfigField("seq_classif_dropout", "classifier_dropout"), "qa_dropout",
        ConfigField("dropout", "token_classifier_dropout"),
        ConfigField("sinusoidal_pos_embds", "position_embedding_type",
                    to_ours=lambda v: "sinusoidal" if v else "learned", to_native=lambda v: v == "sinusoidal"),
    ),
    requires=encoder_native_requires(
        position_embedding_type=lambda c: c.position_embedding_type if c.position_embedding_type in (
            "learned", "sinusoidal") else "learned",
        position_offset=0, pad_aware_positions=False, type_vocab_size=0, layer_norm_eps=1e-12,
        embedding_size=lambda c: c.hidden_size, num_hidden_groups=lambda c: c.num_hidden_layers,
        mlm_head_act=None, classifier_pooling="head", classifier_activation="relu", classifier_input_dropout=False,
        attention_output_dropout=False,
        qa_dropout=lambda c: c.qa_dropout, token_classifier_dropout=lambda c: c.hidden_dropout_prob),
    # Sinusoidal tables are a buffer here but a (frozen) weight natively: nothing to carry over.
    ours_overrides={"type_vocab_size": 0, "layer_norm_eps": 1e-12},
)

SPEC = declare_variant(
    "distilbert", "encoder", HfvDistilBertConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvDistilBertTokenizer, objective="distillation+mlm", native=NATIVE,
    description="DistilBERT: 6-layer BERT student without token types, trained by distillation + MLM",
    test_config={},
)
