"""hfv_t5 / hfv_byt5 / hfv_bart against native transformers T5 and BART: logits on a padded batch, cached greedy and
beam generation, state-dict round trips (both directions), the classification head, and eager == sdpa."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartForSequenceClassification,
    T5Config,
    T5ForConditionalGeneration,
    T5ForSequenceClassification,
)

from hf_variants.convert import from_native, to_native
from tests.variant_configs import tiny_config

ATOL = 1e-5
T5_TINY = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_heads=4, dropout_rate=0.0)
BART_TINY = dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                 decoder_attention_heads=4, encoder_ffn_dim=37, decoder_ffn_dim=37, max_position_embeddings=64,
                 dropout=0.0)

NATIVE_CASES = {
    "t5-v1.0": lambda: T5ForConditionalGeneration(T5Config(num_layers=2, **T5_TINY)),
    "t5-v1.1": lambda: T5ForConditionalGeneration(T5Config(num_layers=2, feed_forward_proj="gated-gelu",
                                                           tie_word_embeddings=False, **T5_TINY)),
    "t5-deep-encoder": lambda: T5ForConditionalGeneration(T5Config(num_layers=3, num_decoder_layers=2, **T5_TINY)),
    "bart": lambda: BartForConditionalGeneration(BartConfig(**BART_TINY)),
    "bart-scaled": lambda: BartForConditionalGeneration(BartConfig(scale_embedding=True, **BART_TINY)),
}


def padded_batch(eos: int):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 99, (3, 9), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    ids[0, -1], ids[1, 5], ids[2, 3] = eos, eos, eos  # one EOS per row, for the classification head
    decoder = torch.randint(3, 99, (3, 6), generator=generator)
    decoder_mask = torch.ones_like(decoder)
    decoder_mask[2, 4:] = 0
    return dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, decoder_attention_mask=decoder_mask)


def max_diff(a, b, inputs) -> float:
    real = inputs["decoder_attention_mask"].bool()
    return (a[real] - b[real]).abs().max().item()


def generate_both(native, ours, inputs, **kwargs):
    args = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                min_new_tokens=8, do_sample=False, decoder_start_token_id=ours.config.decoder_start_token_id, **kwargs)
    with torch.no_grad():
        return native.generate(**args), ours.generate(**args)


@pytest.fixture(params=sorted(NATIVE_CASES))
def pair(request):
    torch.manual_seed(0)
    native = NATIVE_CASES[request.param]().eval()
    return native, from_native(native).eval()


def test_logits_match_native(pair):
    native, ours = pair
    inputs = padded_batch(ours.config.eos_token_id)
    with torch.no_grad():
        assert max_diff(native(**inputs).logits, ours(**inputs).logits, inputs) <= ATOL


@pytest.mark.parametrize("num_beams", [1, 3])
def test_cached_generation_matches_native(pair, num_beams):
    native, ours = pair
    expected, got = generate_both(native, ours, padded_batch(ours.config.eos_token_id), num_beams=num_beams)
    assert torch.equal(expected, got)


def test_state_dict_round_trip(pair):
    native, ours = pair
    back = to_native(ours)
    expected, got = native.state_dict(), back.state_dict()
    assert set(expected) == set(got)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    again = from_native(back)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in ours.state_dict().items())


def test_eager_equals_sdpa(pair):
    _, ours = pair
    inputs = padded_batch(ours.config.eos_token_id)
    with torch.no_grad():
        eager = ours(**inputs).logits
        ours.set_attn_implementation("sdpa")
        sdpa = ours(**inputs).logits
    assert max_diff(eager, sdpa, inputs) <= ATOL


@pytest.mark.parametrize("native_cls,config", [
    (T5ForSequenceClassification, lambda: T5Config(num_layers=2, num_labels=3, decoder_start_token_id=0, **T5_TINY)),
    (BartForSequenceClassification, lambda: BartConfig(num_labels=3, **BART_TINY)),
])
def test_sequence_classification_matches_native(native_cls, config):
    torch.manual_seed(0)
    native = native_cls(config()).eval()
    ours = from_native(native).eval()
    inputs = padded_batch(ours.config.eos_token_id)
    inputs.pop("decoder_input_ids"), inputs.pop("decoder_attention_mask")  # both shift input_ids by default
    with torch.no_grad():
        assert (native(**inputs).logits - ours(**inputs).logits).abs().max().item() <= ATOL
    back = to_native(ours)
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in native.state_dict().items())


def test_byt5_matches_native_t5():
    """ByT5 is a native `t5` model: convert our byt5 to native and compare outputs and generation."""
    torch.manual_seed(0)
    from hf_variants.variants.byt5 import HfvByT5ForConditionalGeneration

    ours = HfvByT5ForConditionalGeneration(tiny_config("byt5")).eval()
    native = to_native(ours).eval()
    assert native.config.model_type == "t5" and native.config.num_decoder_layers == 2
    assert native.lm_head.weight is not native.shared.weight  # ByT5's head is untied
    inputs = padded_batch(ours.config.eos_token_id)
    with torch.no_grad():
        assert max_diff(native(**inputs).logits, ours(**inputs).logits, inputs) <= ATOL
    expected, got = generate_both(native, ours, inputs, num_beams=2)
    assert torch.equal(expected, got)


def test_untied_head_survives_native_save_load(tmp_path):
    torch.manual_seed(0)
    from hf_variants.variants.byt5 import HfvByT5ForConditionalGeneration

    ours = HfvByT5ForConditionalGeneration(tiny_config("byt5")).eval()
    to_native(ours).save_pretrained(tmp_path)
    reloaded = from_native(tmp_path)
    assert reloaded.config.tie_word_embeddings is False
    assert torch.equal(reloaded.lm_head.weight, ours.lm_head.weight)


def test_to_native_lists_what_native_t5_cannot_express():
    config = tiny_config("t5", norm_position="post", position_embedding_type="rope")
    from hf_variants.variants.t5 import HfvT5ForConditionalGeneration

    with pytest.raises(ValueError, match="norm_position='post'.*position_embedding_type='rope'|position_embedding_type"):
        to_native(HfvT5ForConditionalGeneration(config))


def test_native_t5_checkpoint_converts_to_byt5_when_asked(tmp_path):
    import transformers

    from hf_variants.convert import convert_checkpoint, from_native

    native = transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=1, num_heads=4,
        feed_forward_proj="gated-gelu", tie_word_embeddings=False)).eval()
    assert type(from_native(native)).__name__ == "HfvT5ForConditionalGeneration"
    byt5 = from_native(native, variant="byt5")
    assert type(byt5).__name__ == "HfvByT5ForConditionalGeneration"
    ids = torch.randint(3, 384, (2, 6))
    with torch.no_grad():
        assert torch.equal(native(input_ids=ids, decoder_input_ids=ids).logits,
                           byt5(input_ids=ids, decoder_input_ids=ids).logits)
    with pytest.raises(ValueError, match="allowed: \\['byt5', 't5'\\]"):
        from_native(native, variant="bart")
    native.save_pretrained(tmp_path / "native")
    assert convert_checkpoint(tmp_path / "native", tmp_path / "ours", variant="byt5").config.model_type == "hfv_byt5"
