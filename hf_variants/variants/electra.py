"""ELECTRA (Clark et al. 2020): a small MLM generator and a discriminator that detects replaced tokens.

Both share the factorized token embeddings (`embedding_size`); `generator_config` gives the generator's sizes.
"""

from ..core.heads import classifier_dropout
from ..families.encoder import ENCODER_HEADS, EncoderConfig
from ..tokenization import HfvElectraTokenizer
from .bert_maps import BERT_CONFIG_FIELDS, BERT_EMBEDDING_RULES, BERT_LAYER_RULES, ENCODER_ONLY, encoder_native_requires
from .keymap import KeyMap
from .spec import ConfigField, NativeMapping, declare_variant


class HfvElectraConfig(EncoderConfig):
    """Defaults: ELECTRA-small's discriminator (hidden 256, 4 heads, embeddings 128)."""

    model_type = "hfv_electra"
    embedding_size: int | None = 128
    hidden_size: int = 256
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    mlm_head_act: str | None = "gelu"
    classifier_pooling: str = "head"
    classifier_activation: str = "gelu"
    pretraining_heads: str = "rtd"

    def generator_config(self, size_ratio: float = 0.25) -> "HfvElectraConfig":
        """The generator's config: same embeddings and depth, hidden/heads/intermediate scaled by `size_ratio`
        (the paper's best generators are 1/4 to 1/2 of the discriminator)."""
        heads = max(1, int(self.num_attention_heads * size_ratio))
        head_dim = self.hidden_size // self.num_attention_heads
        values = self.to_dict()
        for key in ("model_type", "transformers_version", "architectures"):
            values.pop(key, None)
        values.update(hidden_size=heads * head_dim, num_attention_heads=heads, num_key_value_heads=heads,
                      intermediate_size=max(1, int(self.intermediate_size * size_ratio)), pretraining_heads="mlm")
        return type(self)(**values)


def _native_classifier_dropout(native: dict) -> float:
    dropout = native.get("classifier_dropout")
    return native["hidden_dropout_prob"] if dropout is None else dropout


NATIVE = NativeMapping(
    model_type="electra",
    class_prefix="Electra",
    key_map=KeyMap(
        native_prefix="electra",
        base_rules=BERT_EMBEDDING_RULES + BERT_LAYER_RULES + (("embeddings_project", "embeddings.projection"),),
        head_rules=(
            ("generator_predictions.dense", "lm_head.dense"),
            ("generator_predictions.LayerNorm", "lm_head.norm"),
            ("generator_lm_head", "lm_head.decoder"),
            ("discriminator_predictions.dense", "discriminator.dense"),
            ("discriminator_predictions.dense_prediction", "discriminator.dense_prediction"),
            ("classifier.dense", "classifier.dense"),
            ("classifier.out_proj", "classifier.out_proj"),
            ("qa_outputs", "qa_outputs"),
        ),
        head_rules_for={
            "ForTokenClassification": (("classifier", "classifier.out_proj"),),
            # native multiple choice: first token -> summary dense -> gelu -> classifier, i.e. our head's layout
            "ForMultipleChoice": (("sequence_summary.summary", "classifier.dense"),
                                  ("classifier", "classifier.out_proj")),
        },
    ),
    # Native multiple choice drops out with summary_first/last_dropout where ours uses the classifier dropout:
    # written from it (listed before classifier_dropout, which therefore wins on the way in), required equal.
    config_fields=(
        ConfigField("summary_first_dropout", "classifier_dropout", native_from_config=classifier_dropout),
        ConfigField("summary_last_dropout", "classifier_dropout", native_from_config=classifier_dropout),
    ) + BERT_CONFIG_FIELDS + ("embedding_size",),
    requires=encoder_native_requires(
        position_embedding_type="learned", position_offset=0, pad_aware_positions=False,
        num_hidden_groups=lambda c: c.num_hidden_layers, mlm_head_act="gelu", classifier_pooling="head",
        classifier_activation="gelu"),
    # The sequence-summary settings native multiple choice reads; ours is the default layout.
    native_requires={**ENCODER_ONLY, "summary_type": "first", "summary_use_proj": True, "summary_activation": "gelu",
                     "summary_first_dropout": _native_classifier_dropout,
                     "summary_last_dropout": _native_classifier_dropout},
)

SPEC = declare_variant(
    "electra", "encoder", HfvElectraConfig, ENCODER_HEADS, globals(),
    tokenizer=HfvElectraTokenizer, objective="replaced-token-detection", native=NATIVE,
    description="ELECTRA: discriminator trained to detect tokens replaced by a small MLM generator",
    test_config={"embedding_size": 16},
)
