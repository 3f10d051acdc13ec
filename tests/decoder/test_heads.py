"""Decoder task heads, losses, Auto registration and input errors."""

from __future__ import annotations

import pytest
import torch
import transformers

import hf_variants
from tests.decoder.helpers import PAD, VOCAB, causal_lm, left_padded, max_diff, tiny

NAMES = ["gpt2", "llama", "mistral"]
AUTO_HEADS = {
    "AutoModel": "Model",
    "AutoModelForCausalLM": "ForCausalLM",
    "AutoModelForSequenceClassification": "ForSequenceClassification",
    "AutoModelForTokenClassification": "ForTokenClassification",
    "AutoModelForQuestionAnswering": "ForQuestionAnswering",
}


@pytest.mark.parametrize("name", NAMES)
def test_auto_classes_and_variant_description(name):
    spec = hf_variants.VARIANTS[name]
    assert spec["family"] == "decoder" and spec.model_type == f"hfv_{name}" and spec.native_model_type == name
    values = {k: v for k, v in tiny(name).to_diff_dict().items() if k != "model_type"}
    config = transformers.AutoConfig.for_model(f"hfv_{name}", **values)
    assert type(config) is spec.config_class
    for auto, head in AUTO_HEADS.items():
        model = getattr(transformers, auto).from_config(config)
        assert type(model) is spec.classes[head]


def _head(name, head, **overrides):
    torch.manual_seed(0)
    return hf_variants.VARIANTS[name].classes[head](tiny(name, **overrides)).eval()


@pytest.mark.parametrize("name", NAMES)
def test_sequence_classification_reads_the_last_real_token(name):
    model = _head(name, "ForSequenceClassification", num_labels=3)
    ids, mask = left_padded()
    with torch.no_grad():
        pooled = model(ids, attention_mask=mask).logits
        per_token = model.score(model.model(ids, attention_mask=mask).last_hidden_state)
        # Right padding: the last non-pad token is found wherever it is.
        right = torch.full_like(ids, PAD)
        right_mask = torch.zeros_like(mask)
        for row in range(ids.shape[0]):
            real = ids[row][mask[row].bool()]
            right[row, : len(real)], right_mask[row, : len(real)] = real, 1
        right_pooled = model(right, attention_mask=right_mask).logits
        by_embeds = model(inputs_embeds=model.model.get_input_embeddings()(right), attention_mask=right_mask).logits
    assert pooled.shape == (3, 3)
    assert max_diff(pooled, per_token[:, -1]) == 0
    assert max_diff(right_pooled, by_embeds) <= 1e-5
    labels = torch.tensor([0, 2, 1])
    loss = model(ids, attention_mask=mask, labels=labels).loss
    assert torch.allclose(loss, torch.nn.functional.cross_entropy(pooled, labels), atol=1e-6)


def test_sequence_classification_without_pad_token_refuses_a_batch():
    model = _head("llama", "ForSequenceClassification", pad_token_id=None)
    ids, _ = left_padded()
    with pytest.raises(ValueError, match="pad_token_id"):
        model(ids)
    assert model(ids[:1]).logits.shape == (1, 2)


@pytest.mark.parametrize("name", NAMES)
def test_token_classification_and_question_answering_losses(name):
    ids, mask = left_padded()
    tokens = _head(name, "ForTokenClassification", num_labels=5)
    labels = torch.randint(0, 5, ids.shape)
    out = tokens(ids, attention_mask=mask, labels=labels)
    assert out.logits.shape == (3, ids.shape[1], 5)
    expected = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 5), labels.reshape(-1))
    assert torch.allclose(out.loss, expected, atol=1e-6)

    qa = _head(name, "ForQuestionAnswering")
    out = qa(ids, attention_mask=mask, start_positions=torch.tensor([1, 4, 8]), end_positions=torch.tensor([2, 6, 9]))
    assert out.start_logits.shape == out.end_logits.shape == ids.shape
    assert out.loss.item() > 0


@pytest.mark.parametrize("name", NAMES)
def test_causal_lm_loss_logits_to_keep_and_cache_flag(name):
    model = causal_lm(name)
    ids, mask = left_padded()
    with torch.no_grad():
        out = model(ids, attention_mask=mask, labels=ids)
        last = model(ids, attention_mask=mask, logits_to_keep=1)
        no_cache = model(ids, attention_mask=mask, use_cache=False)
    shifted = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, shifted, atol=1e-6)
    assert last.logits.shape == (3, 1, VOCAB) and max_diff(last.logits, out.logits[:, -1:]) <= 1e-6
    assert out.past_key_values is not None and no_cache.past_key_values is None


@pytest.mark.parametrize("tie", [True, False])
def test_tied_and_untied_lm_head(tie, tmp_path):
    model = causal_lm("llama", tie_word_embeddings=tie)
    shared = model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    assert shared is tie
    model.save_pretrained(tmp_path)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    assert (loaded.lm_head.weight.data_ptr() == loaded.get_input_embeddings().weight.data_ptr()) is tie
    ids, mask = left_padded()
    with torch.no_grad():
        assert torch.equal(model(ids, attention_mask=mask).logits, loaded(ids, attention_mask=mask).logits)


def test_factorized_embeddings_keep_a_tied_head():
    model = causal_lm("gpt2", embedding_size=16)
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    ids, mask = left_padded()
    assert model(ids, attention_mask=mask).logits.shape == (3, ids.shape[1], VOCAB)


def test_moe_auxiliary_loss_is_added():
    model = causal_lm("llama", num_experts=4, num_experts_per_tok=2, router_aux_loss_coef=0.1)
    ids, mask = left_padded()
    out = model(ids, attention_mask=mask, labels=ids)
    assert out.aux_loss is not None and out.aux_loss.item() > 0
    dense_part = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, VOCAB), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, dense_part + 0.1 * out.aux_loss, atol=1e-6)  # aux_loss unweighted, as native
    assert len(out.router_logits) == model.config.num_hidden_layers


def test_output_classes_are_native_for_dense_models_and_ours_for_experts():
    """Dense decoders return transformers' own output classes, the ones native dense decoders return (so native
    LLaMA's and ours have the same fields); experts add router logits and losses (ours, like native Mixtral's)."""
    from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

    from hf_variants.families.decoder import DecoderCausalLMOutput, DecoderModelOutput

    ids, mask = left_padded()
    dense = causal_lm("llama")
    for out, expected in ((dense(ids, attention_mask=mask, labels=ids), CausalLMOutputWithPast),
                          (dense.model(ids, attention_mask=mask), BaseModelOutputWithPast)):
        assert type(out) is expected
    moe = causal_lm("llama", num_experts=4, num_experts_per_tok=2)
    out = moe(ids, attention_mask=mask)
    assert type(out) is DecoderCausalLMOutput and len(out.router_logits) == moe.config.num_hidden_layers
    assert type(moe.model(ids, attention_mask=mask)) is DecoderModelOutput
    asked = dense(ids, attention_mask=mask, output_router_logits=True)  # not dropped: a dense model has none
    assert type(asked) is DecoderCausalLMOutput and asked.router_logits == ()


def test_input_errors_are_clear():
    model = causal_lm("gpt2")
    ids, _ = left_padded()
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model(ids, inputs_embeds=model.get_input_embeddings()(ids))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model()
    with pytest.raises(ValueError, match="position ids must be in"):
        model(torch.randint(3, VOCAB, (1, 65)))


@pytest.mark.parametrize("field,value,allowed", [
    ("position_embedding_type", "xpos", "allowed values"),
    ("norm_position", "sandwich", "allowed values"),
    ("sliding_window", 0, "positive integer"),
    ("num_key_value_heads", 3, "divisible"),
])
def test_bad_decoder_config_is_rejected(field, value, allowed):
    with pytest.raises(ValueError, match=allowed) as error:
        tiny("llama", **{field: value})
    assert field in str(error.value)
