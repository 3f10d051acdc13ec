"""Config validation: impossible element combinations are refused at construction, naming field and values."""

import pytest

import hf_variants
from tests.variant_configs import TINY

Bert = hf_variants.VARIANTS["bert"].config_class


@pytest.mark.parametrize("overrides,message", [
    (dict(hidden_size=30, num_attention_heads=4), "hidden_size=30 must be divisible by num_attention_heads=4"),
    (dict(num_attention_heads=4, num_key_value_heads=3), "num_key_value_heads=3"),
    (dict(position_embedding_type="absolute"), "position_embedding_type='absolute' is not supported; allowed"),
    (dict(norm_type="batchnorm"), "norm_type='batchnorm'"),
    (dict(norm_position="sandwich"), "norm_position='sandwich'"),
    (dict(ffn_type="moe"), "ffn_type='moe'"),
    (dict(hidden_act="swish2"), "hidden_act='swish2' is not a transformers activation"),
    (dict(position_embedding_type="rope", head_dim=7), "even head dimension"),
    (dict(position_embedding_type="rope", pad_aware_positions=True), "only apply to absolute positions"),
    (dict(num_hidden_groups=3), "num_hidden_groups=3 must divide num_hidden_layers=2"),
    (dict(sliding_window=4), "sliding_window=4 needs causal attention"),
    (dict(num_experts=1), "num_experts=1 must be 0"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob=1.5"),
    (dict(max_position_embeddings=0), "max_position_embeddings=0 must be a positive integer"),
    (dict(pretraining_heads="clm"), "pretraining_heads='clm'"),
])
def test_impossible_configs_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Bert(**{**TINY, **overrides})


def test_variant_defaults_reproduce_the_native_models():
    v = hf_variants.VARIANTS
    assert v["roberta"].config_class().pad_aware_positions and v["roberta"].config_class().pad_token_id == 1
    albert = v["albert"].config_class()
    assert (albert.embedding_size, albert.hidden_size, albert.num_hidden_groups) == (128, 768, 1)
    assert v["distilbert"].config_class().type_vocab_size == 0
    assert v["distilbert"].config_class().num_hidden_layers == 6
    electra = v["electra"].config_class()
    generator = electra.generator_config()
    assert generator.embedding_size == electra.embedding_size
    assert generator.hidden_size == electra.hidden_size // 4
    assert generator.pretraining_heads == "mlm"


def test_variants_table_describes_every_variant():
    for name, spec in hf_variants.VARIANTS.items():
        assert spec.model_type == f"hfv_{name}"
        assert spec["family"] in ("encoder", "decoder", "encoder-decoder")
        assert spec.tokenizer and spec.objective
        assert spec.native_model_type is None or isinstance(spec.native_model_type, str)


def test_config_round_trips_through_json(tmp_path):
    config = Bert(**TINY, position_embedding_type="rope", norm_type="rmsnorm", ffn_type="glu", hidden_act="silu")
    config.save_pretrained(tmp_path)
    from transformers import AutoConfig

    loaded = AutoConfig.from_pretrained(tmp_path)
    assert type(loaded) is Bert
    assert loaded.rope_parameters["rope_type"] == "default"
    assert (loaded.norm_type, loaded.ffn_type, loaded.hidden_act) == ("rmsnorm", "glu", "silu")


def test_tool_modules_are_package_attributes():
    assert hf_variants.convert.from_native is not None
    assert hf_variants.tokenization.train_tokenizer is not None
    with pytest.raises(AttributeError):
        hf_variants.no_such_module
