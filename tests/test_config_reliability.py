"""Config reliability (issue 14): wrong types and values are refused naming the field, derived sizes follow overrides
at load, what transformers validates at save time is validated at construction, and accepted configs work."""

import json
import math

import pytest
import torch

import hf_variants
from tests.variant_configs import tiny_config

V = hf_variants.VARIANTS


@pytest.mark.parametrize("field,value", [
    ("num_hidden_layers", "2"), ("num_hidden_layers", 2.0), ("num_hidden_layers", None), ("hidden_size", True),
    ("layer_norm_eps", math.nan), ("layer_norm_eps", -1e-5), ("layer_norm_eps", math.inf),
    ("hidden_dropout_prob", math.nan), ("initializer_range", -0.02), ("attention_scale", math.nan),
    ("tie_word_embeddings", "yes"), ("hidden_act", 3), ("num_hidden_layers", 2**40),
    ("max_position_embeddings", 2**50), ("pad_token_id", 99), ("pad_token_id", -1), ("bos_token_id", "1"),
])
def test_wrong_types_and_values_are_refused_naming_the_field(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        tiny_config("bert", **{field: value})


@pytest.mark.parametrize("field,value", [
    ("router_aux_loss_coef", math.inf), ("router_z_loss_coef", math.nan), ("router_aux_loss_coef", -1.0),
    ("expert_capacity_factor", math.inf), ("num_experts", 10**5),
])
def test_expert_fields_are_refused_naming_the_field(field, value):
    with pytest.raises((ValueError, TypeError), match=field):
        tiny_config("mixtral", **{field: value})


def test_special_token_ids_must_lie_in_the_vocabulary():
    with pytest.raises(ValueError, match=r"eos_token_id=\[2, 500\].*vocab_size=99"):
        tiny_config("llama", eos_token_id=[2, 500])
    with pytest.raises(ValueError, match="decoder_start_token_id=99"):
        tiny_config("t5", decoder_start_token_id=99)


def test_relative_bias_buckets_that_cannot_bucket_are_refused():
    for buckets in (1, 2, 3):
        with pytest.raises(ValueError, match=f"relative_attention_num_buckets={buckets}"):
            tiny_config("t5", relative_attention_num_buckets=buckets)
    with pytest.raises(ValueError, match="relative_attention_max_distance=2"):
        tiny_config("t5", relative_attention_num_buckets=4, relative_attention_max_distance=2)
    model = V["t5"].classes["ForConditionalGeneration"](tiny_config("t5", relative_attention_num_buckets=4,
                                                                    relative_attention_max_distance=3))
    ids = torch.arange(1, 13).view(2, 6)
    assert torch.isfinite(model(input_ids=ids, labels=ids).loss)


def test_head_dim_is_always_a_resolved_integer_and_rope_parameters_only_with_rope():
    bert = tiny_config("bert")
    assert bert.head_dim == 8 and isinstance(bert.head_dim, int)
    assert not hasattr(bert, "rope_parameters")
    llama = tiny_config("llama")
    assert llama.head_dim == 8 and llama.rope_parameters["rope_type"] == "default"
    assert V["mixtral"].config_class().rope_parameters["rope_theta"] == 1e6
    with pytest.raises(ValueError, match="rope_parameters=.*only applies to position_embedding_type='rope'"):
        tiny_config("bert", rope_parameters={"rope_type": "linear", "factor": 2.0})


@pytest.mark.parametrize("rope_type,extra", [
    ("linear", {}), ("dynamic", {}), ("yarn", {}),
    ("longrope", {"short_factor": [1.0] * 4, "long_factor": [2.0] * 4, "original_max_position_embeddings": 32}),
])
def test_scaled_rope_works_with_the_default_head_dim(rope_type, extra, tmp_path):
    config = tiny_config("llama", rope_parameters={"rope_type": rope_type, "factor": 2.0, **extra})
    model = V["llama"].classes["ForCausalLM"](config)
    ids = torch.arange(1, 13).view(2, 6)
    assert torch.isfinite(model(input_ids=ids, labels=ids).loss)
    model.save_pretrained(tmp_path)
    assert type(model).from_pretrained(tmp_path).config.rope_parameters["rope_type"] == rope_type


def test_rope_types_missing_their_parameters_are_refused_at_construction():
    with pytest.raises(ValueError, match="rope_parameters=.*cannot build 'longrope' RoPE"):
        tiny_config("llama", rope_parameters={"rope_type": "longrope", "factor": 2.0})
    with pytest.raises(ValueError, match=r"rope_parameters\['rope_type'\]='bogus'"):
        tiny_config("llama", rope_parameters={"rope_type": "bogus"})


def test_odd_head_dim_with_learned_positions_saves_and_loads(tmp_path):
    model = V["bert"].classes["ForMaskedLM"](tiny_config("bert", head_dim=5))
    model.save_pretrained(tmp_path)
    assert type(model).from_pretrained(tmp_path).config.head_dim == 5


def test_attributes_set_after_construction_are_validated_at_save(tmp_path):
    config = tiny_config("bert")
    config.sliding_window = 4
    with pytest.raises(ValueError, match="sliding_window=4"):
        config.save_pretrained(tmp_path)
    assert not (tmp_path / "config.json").exists()
    config = tiny_config("llama")
    config.layer_norm_eps = math.nan
    with pytest.raises(ValueError, match="layer_norm_eps=nan"):
        config.save_pretrained(tmp_path)


def test_overrides_at_load_rederive_what_was_derived_and_are_validated(tmp_path):
    config = tiny_config("llama", num_key_value_heads=None)
    V["llama"].classes["ForCausalLM"](config).save_pretrained(tmp_path)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["num_key_value_heads"] is None and stored["head_dim"] is None  # derived: written as null
    cls = V["llama"].classes["ForCausalLM"]
    loaded = cls.from_pretrained(tmp_path, num_attention_heads=8, num_hidden_layers=4)
    assert (loaded.config.num_key_value_heads, loaded.config.head_dim) == (8, 4)  # MHA as saved, not GQA 4
    assert loaded.config.num_hidden_groups == 4  # 4 distinct layers, not 2 shared ones
    with pytest.raises(ValueError, match="num_attention_heads=3"):
        cls.from_pretrained(tmp_path, num_attention_heads=3)
    with pytest.raises(TypeError, match="num_hidden_layers='4'"):
        cls.from_pretrained(tmp_path, num_hidden_layers="4")


def test_an_override_of_hidden_size_keeps_embeddings_unfactorized(tmp_path):
    V["bert"].classes["Model"](tiny_config("bert")).save_pretrained(tmp_path)
    loaded = V["bert"].classes["Model"].from_pretrained(tmp_path, hidden_size=16, ignore_mismatched_sizes=True)
    assert loaded.config.embedding_size == 16 and loaded.config.head_dim == 4


def test_explicit_values_stay_explicit(tmp_path):
    config = tiny_config("llama", num_key_value_heads=2)
    config.save_pretrained(tmp_path)
    loaded = type(config).from_pretrained(tmp_path, num_attention_heads=8)
    assert loaded.num_key_value_heads == 2
    config = tiny_config("bert")
    config.hidden_size = 64  # set after construction: derived sizes follow
    assert (config.embedding_size, config.head_dim) == (64, 16)
    config.head_dim = 8
    config.hidden_size = 32
    assert config.head_dim == 8  # set explicitly: kept


@pytest.mark.parametrize("variant", ["t5", "bart", "transformer", "switch"])
def test_factorized_embeddings_work_in_encoder_decoders(variant, tmp_path):
    cls = V[variant].classes["ForConditionalGeneration"]
    model = cls(tiny_config(variant, embedding_size=16))
    ids = torch.arange(1, 13).view(2, 6)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)
    model.save_pretrained(tmp_path)
    reloaded = cls.from_pretrained(tmp_path)
    model.eval(), reloaded.eval()
    with torch.no_grad():
        # fp32 tolerance: reloaded weights are not 64-byte aligned, which changes some CPUs' GEMM summation order
        torch.testing.assert_close(reloaded(input_ids=ids, labels=ids).logits, model(input_ids=ids, labels=ids).logits,
                                   rtol=1e-5, atol=1e-5)


def test_decoder_depth_follows_an_encoder_depth_override_unless_set(tmp_path):
    config = tiny_config("t5")
    config.save_pretrained(tmp_path / "derived")
    assert type(config).from_pretrained(tmp_path / "derived", num_hidden_layers=3).num_decoder_layers == 3
    explicit = tiny_config("byt5")  # num_decoder_layers=2 given
    explicit.save_pretrained(tmp_path / "explicit")
    assert type(explicit).from_pretrained(tmp_path / "explicit", num_hidden_layers=4).num_decoder_layers == 2
