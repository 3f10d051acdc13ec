"""The declarative key map: one rule table renames parameters both ways, longest rule first, nothing dropped."""

import pytest
import torch

from hf_variants.variants.keymap import KeyMap

MAP = KeyMap(
    native_prefix="bert",
    base_rules=(("encoder.layer.{i}.attention.self.query", "encoder.layers.{i}.self_attn.q_proj"),
                ("embeddings.LayerNorm", "embeddings.norm")),
    head_rules=(("cls.predictions.decoder", "lm_head.decoder"), ("cls.predictions.bias", "lm_head.decoder.bias"),
                ("classifier", "classifier.out_proj")),
    head_rules_for={"ForTokenClassification": (("classifier", "classifier.proj"),)},
)


def test_renames_both_ways_with_layer_index():
    native = "bert.encoder.layer.11.attention.self.query.weight"
    ours = MAP.rename(native, to_ours=True, has_base_prefix=True)
    assert ours == "model.encoder.layers.11.self_attn.q_proj.weight"
    assert MAP.rename(ours, to_ours=False, has_base_prefix=True) == native
    # base models carry no prefix on either side
    assert MAP.rename("embeddings.LayerNorm.bias", to_ours=True, has_base_prefix=False) == "embeddings.norm.bias"


def test_longest_rule_wins_and_prefixes_match_whole_names():
    assert MAP.rename("lm_head.decoder.bias", to_ours=False, has_base_prefix=True) == "cls.predictions.bias"
    assert MAP.rename("lm_head.decoder.weight", to_ours=False, has_base_prefix=True) == "cls.predictions.decoder.weight"
    assert MAP.rename("classifierX.weight", to_ours=True, has_base_prefix=True) is None  # not a prefix of a name


def test_head_specific_rules_take_precedence():
    assert MAP.rename("classifier.weight", True, True) == "classifier.out_proj.weight"
    assert MAP.rename("classifier.weight", True, True, head="ForTokenClassification") == "classifier.proj.weight"


def test_unmatched_parameters_are_an_error_not_a_silent_drop():
    state = {"bert.embeddings.LayerNorm.weight": torch.ones(2), "bert.mystery.weight": torch.ones(1)}
    with pytest.raises(ValueError, match="no conversion rule for parameters: \\['bert.mystery.weight'\\]"):
        MAP.convert(state, to_ours=True, has_base_prefix=True)
