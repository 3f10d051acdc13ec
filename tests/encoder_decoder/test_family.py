"""Encoder-decoder family behaviour: teacher forcing from labels, the cross-attention cache, incremental decoding,
the classification head, the MoE loss hook and config validation."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification
from transformers.cache_utils import EncoderDecoderCache

import hf_variants  # noqa: F401  (Auto registration)
from hf_variants.families.encoder_decoder import shift_tokens_right
from tests.variant_configs import tiny_config


def test_auto_classes_registered():
    for name in ("t5", "byt5", "bart", "transformer"):
        config = tiny_config(name)
        for auto in (AutoModel, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification):
            assert type(auto.from_config(config)).__module__.startswith("hf_variants.variants")


def test_shift_tokens_right():
    labels = torch.tensor([[5, 6, -100], [7, -100, -100]])
    assert shift_tokens_right(labels, 0, 9).tolist() == [[9, 5, 6], [9, 7, 0]]
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        shift_tokens_right(labels, 0, None)


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_labels_give_shifted_decoder_inputs_and_loss(name):
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(tiny_config(name)).eval()
    ids = torch.randint(4, 99, (2, 7))
    labels = torch.randint(4, 99, (2, 5))
    labels[1, 3:] = -100
    out = model(input_ids=ids, labels=labels)
    explicit = model(input_ids=ids, decoder_input_ids=model.prepare_decoder_input_ids_from_labels(labels))
    assert torch.equal(out.logits, explicit.logits)
    expected = torch.nn.functional.cross_entropy(out.logits.view(-1, 99), labels.view(-1), ignore_index=-100)
    assert torch.allclose(out.loss, expected)


@pytest.mark.parametrize("name", ["t5", "bart", "transformer"])
def test_incremental_decoding_equals_full_pass(name):
    """Feeding the decoder one token at a time through EncoderDecoderCache gives the full pass's logits, and the
    cross-attention keys/values are computed once (is_updated) and reused."""
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(tiny_config(name, num_decoder_layers=3)).eval()
    ids = torch.randint(4, 99, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    decoder = torch.randint(4, 99, (2, 6))
    with torch.no_grad():
        full = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, use_cache=False).logits
        encoder_outputs = model.get_encoder()(input_ids=ids, attention_mask=mask)
        cache, steps = None, []
        for t in range(decoder.shape[1]):
            out = model(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=decoder[:, t:t + 1],
                        past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            steps.append(out.logits)
            if t == 0:
                cross_keys = cache.cross_attention_cache.layers[2].keys
    assert isinstance(cache, EncoderDecoderCache) and all(cache.is_updated[i] for i in range(3))
    assert cache.cross_attention_cache.layers[2].keys is cross_keys  # not recomputed
    assert cache.get_seq_length() == decoder.shape[1]
    assert (torch.cat(steps, dim=1) - full).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", ["t5", "bart"])
def test_sampling_generation_runs(name):
    torch.manual_seed(0)
    model = AutoModelForSeq2SeqLM.from_config(tiny_config(name)).eval()
    out = model.generate(torch.randint(4, 99, (2, 6)), do_sample=True, top_k=5, max_new_tokens=5, min_new_tokens=5)
    assert out.shape == (2, 6) and (out[:, 0] == model.config.decoder_start_token_id).all()


def test_sequence_classification_needs_consistent_eos():
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(tiny_config("bart", num_labels=2)).eval()
    eos = model.config.eos_token_id
    ids = torch.randint(4, 99, (2, 6))
    ids[:, -1] = eos
    assert model(input_ids=ids, labels=torch.tensor([0, 1])).logits.shape == (2, 2)
    ids[0, 2] = eos
    with pytest.raises(ValueError, match="EOS"):
        model(input_ids=ids)


def test_moe_auxiliary_loss_is_added():
    torch.manual_seed(0)
    config = tiny_config("t5", num_experts=4, num_experts_per_tok=1, router_aux_loss_coef=0.1)
    model = AutoModelForSeq2SeqLM.from_config(config)
    out = model(input_ids=torch.randint(4, 99, (2, 6)), labels=torch.randint(4, 99, (2, 4)))
    assert out.aux_loss is not None and out.aux_loss > 0
    labels = torch.randint(4, 99, (2, 4))
    out = model(input_ids=torch.randint(4, 99, (2, 6)), labels=labels)
    lm_loss = torch.nn.functional.cross_entropy(out.logits.view(-1, 99), labels.view(-1))
    assert torch.allclose(out.loss, lm_loss + 0.1 * out.aux_loss)  # aux_loss unweighted, as native


@pytest.mark.parametrize("kwargs,message", [
    ({"num_decoder_layers": 0}, "num_decoder_layers=0"),
    ({"classifier_pooling": "pooler"}, "classifier_pooling='pooler'"),
    ({"num_hidden_layers": 4, "num_hidden_groups": 2, "num_decoder_layers": 3}, "num_hidden_groups=2"),
])
def test_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_config("t5", **kwargs)


def test_decoder_depth_and_generation_cache_view():
    config = tiny_config("byt5")
    assert config.num_hidden_layers == 3 and config.num_decoder_layers == 2
    view = config.get_text_config(decoder=True)
    assert view.num_hidden_layers == 2 and config.num_hidden_layers == 3
    model = AutoModelForSeq2SeqLM.from_config(config)
    assert len(model.model.encoder.layers) == 3 and len(model.model.decoder.layers) == 2
