"""GPT-1 (hfv_gpt) vs native transformers `openai-gpt`: the same weights give the same logits (bit for bit in
eager fp32), the same training-mode outputs under the same seed, the same generated tokens, and conversion is
bit-exact both ways."""

from __future__ import annotations

import pytest
import torch
import transformers

import hf_variants
from hf_variants.convert import from_native, to_native
from tests.decoder.helpers import PAD, VOCAB, left_padded, max_diff

# Native GPT-1 keeps its projections as Conv1D ([in, out], `x @ W`), ours as nn.Linear ([out, in], `x @ W.T`): the
# same products, but some CPUs' GEMM kernels (seen on an AVX-512 machine) sum them in another order for the two
# layouts, a difference of one or two float32 ulps (<= 1.2e-7 here); elsewhere it is 0.0.
LAYOUT_TOLERANCE = 1e-6

# head_dim 16: native divides the scores by sqrt(16) = 4 and we multiply by 0.25, which agree exactly, so eager
# logits can be compared for equality (with a head_dim whose square root is irrational they differ by an ulp).
NATIVE_SIZES = dict(n_layer=2, n_embd=64, n_head=4, vocab_size=VOCAB, n_positions=64)
HEADS = {"Model": "Model", "LMHeadModel": "ForCausalLM", "ForSequenceClassification": "ForSequenceClassification"}


def native_gpt(head: str = "LMHeadModel", seed: int = 0, **overrides) -> transformers.PreTrainedModel:
    torch.manual_seed(seed)
    config = transformers.OpenAIGPTConfig(**{**NATIVE_SIZES, "pad_token_id": PAD, **overrides})
    config._attn_implementation = "eager"  # the only backend native GPT-1 has
    return getattr(transformers, f"OpenAIGPT{head}")(config).eval()


def padded_both_sides() -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = left_padded()
    mask[0, -2:] = 0  # row 0 right-padded as well
    return ids.masked_fill(mask == 0, PAD), mask


@pytest.mark.parametrize("head", list(HEADS))
def test_padded_batch_parity_is_exact(head):
    native = native_gpt(head)
    ours = from_native(native)
    assert type(ours).__name__ == f"HfvGPT{HEADS[head]}"
    ids, mask = padded_both_sides()
    with torch.no_grad():
        expected = native(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        actual = ours(input_ids=ids, attention_mask=mask, output_hidden_states=True)
    if head == "ForSequenceClassification":
        assert max_diff(expected.logits, actual.logits) <= LAYOUT_TOLERANCE
    else:
        main = "logits" if head == "LMHeadModel" else "last_hidden_state"
        assert max_diff(expected[main], actual[main], mask) <= LAYOUT_TOLERANCE
    assert len(expected.hidden_states) == len(actual.hidden_states) == 3
    for a, b in zip(expected.hidden_states, actual.hidden_states, strict=True):
        assert max_diff(a, b, mask) <= LAYOUT_TOLERANCE


def test_sdpa_matches_native_eager():
    native = native_gpt()
    ours = from_native(native)
    ours.set_attn_implementation("sdpa")
    ids, mask = padded_both_sides()
    with torch.no_grad():
        assert max_diff(native(ids, attention_mask=mask).logits, ours(ids, attention_mask=mask).logits, mask) <= 1e-5


@pytest.mark.parametrize("head", list(HEADS))
def test_conversion_is_bit_exact_both_ways(head):
    native = native_gpt(head)
    ours = from_native(native)
    back = to_native(ours)
    assert type(back) is type(native)
    assert back.config.afn == "gelu" and back.config.n_positions == 64
    reference, round_trip = native.state_dict(), back.state_dict()
    assert reference.keys() == round_trip.keys()
    for key in reference:
        assert torch.equal(reference[key], round_trip[key]), key
    again = from_native(back).state_dict()
    assert again.keys() == ours.state_dict().keys()
    for key, value in ours.state_dict().items():
        assert torch.equal(value, again[key]), key


def test_our_random_init_converts_to_native():
    """The other direction's starting point: a model built by us (AutoModelForCausalLM) equals its native copy."""
    from tests.variant_configs import tiny_config

    torch.manual_seed(0)
    ours = transformers.AutoModelForCausalLM.from_config(tiny_config("gpt", hidden_size=64),
                                                         attn_implementation="eager").eval()
    native = to_native(ours)
    assert type(native) is transformers.OpenAIGPTLMHeadModel
    ids, mask = padded_both_sides()
    with torch.no_grad():
        assert max_diff(native(ids, attention_mask=mask).logits, ours(ids, attention_mask=mask).logits, mask) <= LAYOUT_TOLERANCE


def test_training_mode_matches_native_under_the_same_seed():
    """Dropout sits where native puts it (embeddings, attention weights, both sublayer outputs): same seed, same
    dropout masks, same logits, loss and gradients."""
    native = native_gpt().train()
    ours = from_native(native).train()
    ids = torch.randint(3, VOCAB, (3, 12), generator=torch.Generator().manual_seed(1))
    torch.manual_seed(7)
    expected = native(ids, labels=ids)
    torch.manual_seed(7)
    actual = ours(ids, labels=ids)
    assert max_diff(expected.logits, actual.logits) == 0.0
    assert expected.loss.item() == actual.loss.item()
    expected.loss.backward()
    actual.loss.backward()
    grad_native = native.transformer.h[0].mlp.c_fc.weight.grad.t()
    assert max_diff(grad_native, ours.model.decoder.layers[0].mlp.up_proj.weight.grad) <= 1e-6
    with torch.no_grad():
        torch.manual_seed(7)
        other_seed = native(ids).logits
    assert max_diff(other_seed, ours.eval()(ids).logits) > 0.0  # dropout was really on


@pytest.mark.parametrize("mode", [dict(do_sample=False), dict(do_sample=False, num_beams=3)], ids=["greedy", "beam"])
def test_generate_matches_native_tokens(mode):
    """Unpadded prompts (native GPT-1 has no KV cache and counts positions from 0 even under left padding)."""
    native = native_gpt()
    ours = from_native(native)
    prompts = torch.randint(3, VOCAB, (3, 6), generator=torch.Generator().manual_seed(2))
    outputs = [model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=8, min_new_tokens=8,
                              pad_token_id=PAD, **mode) for model in (native, ours)]
    assert outputs[0].shape == (3, 14)
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("overrides,expected", [
    ({"hidden_act": "gelu"}, "hidden_act='gelu'"),
    ({"norm_position": "pre"}, "norm_position='pre'"),
    ({"final_norm": True}, "use_final_norm=True"),
    ({"intermediate_size": 100}, "intermediate_size=100"),
    ({"position_embedding_type": "rope"}, "position_embedding_type='rope'"),
])
def test_to_native_refuses_what_native_cannot_express(overrides, expected):
    from tests.variant_configs import tiny_config

    model = hf_variants.VARIANTS["gpt"].classes["ForCausalLM"](tiny_config("gpt", **overrides))
    with pytest.raises(ValueError, match="cannot convert to native openai-gpt") as error:
        to_native(model)
    assert expected in str(error.value)


def test_from_native_refuses_what_we_cannot_express():
    with pytest.raises(ValueError, match="embd_pdrop=0.3"):
        from_native(native_gpt(embd_pdrop=0.3))
    with pytest.raises(ValueError, match="no DoubleHeadsModel head"):
        from_native(native_gpt("DoubleHeadsModel"))


def test_activations_map_both_ways():
    for native_afn, ours in (("relu", "relu"), ("silu", "silu"), ("swish", "silu")):
        model = from_native(native_gpt(afn=native_afn))
        assert model.config.hidden_act == ours
        assert to_native(model).config.afn == ("silu" if native_afn == "swish" else native_afn)
