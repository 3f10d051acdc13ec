"""hfv_mixtral against native MixtralForCausalLM: logits, router logits, aux loss, generation, state-dict round trip."""

import pytest
import torch

from hf_variants.convert import from_native, to_native
from hf_variants.variants.mixtral import HfvMixtralConfig, HfvMixtralForCausalLM

TINY = dict(vocab_size=99, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, num_experts=8, num_experts_per_tok=2,
            router_aux_loss_coef=0.02, pad_token_id=0)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    ours = HfvMixtralForCausalLM(HfvMixtralConfig(**TINY)).eval()
    with torch.no_grad():  # a sharper router, so routing decisions matter
        for layer in ours.model.decoder.layers:
            layer.mlp.gate.weight.normal_(std=0.5)
    native = to_native(ours).eval()
    assert type(native).__name__ == "MixtralForCausalLM"
    return ours, native


def _padded_batch():
    torch.manual_seed(1)
    ids = torch.randint(1, 99, (3, 10))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding, as for generation
    ids[1, :3] = 0
    return ids, mask


@pytest.mark.parametrize("implementation", ["grouped", "eager"])
def test_logits_and_router_logits(pair, implementation):
    ours, native = pair
    for layer in ours.model.decoder.layers:
        layer.mlp.experts.implementation = implementation
    ids, mask = _padded_batch()
    with torch.no_grad():
        out = ours(ids, attention_mask=mask)
        ref = native(ids, attention_mask=mask, output_router_logits=True)
    active = mask.bool()
    assert (out.logits - ref.logits)[active].abs().max() <= 1e-5
    assert len(out.router_logits) == len(ref.router_logits) == 2
    for mine, theirs in zip(out.router_logits, ref.router_logits):
        assert mine.shape == theirs.shape == (ids.numel(), 8)  # [batch * seq, experts], as native
        torch.testing.assert_close(mine[active.reshape(-1)], theirs[active.reshape(-1)], atol=1e-6, rtol=0)
    for layer in ours.model.decoder.layers:
        layer.mlp.experts.implementation = "grouped"


def test_aux_loss_and_loss_equal_native(pair):
    ours, native = pair
    ids = torch.randint(1, 99, (2, 12))
    with torch.no_grad():
        out = ours(ids, labels=ids)  # no output_router_logits: the aux loss is still added
        ref = native(ids, labels=ids, output_router_logits=True)
    torch.testing.assert_close(out.aux_loss, ref.aux_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out.loss, ref.loss, atol=1e-5, rtol=1e-5)


def test_padded_aux_loss_equal_native(pair):
    """Padding is left out of the balancing loss on both sides (the attention mask reaches the loss)."""
    ours, native = pair
    ids, mask = _padded_batch()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = ours(ids, attention_mask=mask, labels=labels)
        ref = native(ids, attention_mask=mask, labels=labels, output_router_logits=True)
        unmasked = native(ids, labels=labels, output_router_logits=True).aux_loss
    assert not torch.isclose(ref.aux_loss, unmasked)  # the mask matters for this batch
    torch.testing.assert_close(out.aux_loss, ref.aux_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(out.loss, ref.loss, atol=1e-5, rtol=1e-5)


def test_native_load_balancing_function_on_our_router_logits(pair):
    """transformers' own Mixtral load_balancing_loss_func reads our router logits as it reads native's."""
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    ours, native = pair
    ids, mask = _padded_batch()
    with torch.no_grad():
        out = ours(ids, attention_mask=mask)
        ref = native(ids, attention_mask=mask, labels=ids, output_router_logits=True)
    value = load_balancing_loss_func(out.router_logits, 8, 2, mask)
    torch.testing.assert_close(value, ref.aux_loss, atol=1e-6, rtol=1e-6)


def test_generation_equal(pair):
    ours, native = pair
    ids, mask = _padded_batch()
    kwargs = dict(attention_mask=mask, max_new_tokens=8, do_sample=False, pad_token_id=0)
    assert torch.equal(ours.generate(ids, **kwargs), native.generate(ids, **kwargs))


def test_state_dict_round_trip(pair):
    ours, native = pair
    back = from_native(native)
    assert isinstance(back, HfvMixtralForCausalLM)
    mine, theirs = ours.state_dict(), back.state_dict()
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert native.state_dict()["model.layers.0.mlp.experts.gate_up_proj"].shape == (8, 96, 32)


def test_native_refuses_what_it_cannot_express():
    config = HfvMixtralConfig(**{**TINY, "router_z_loss_coef": 0.1, "moe_layer_frequency": 2})
    with pytest.raises(ValueError, match="router_z_loss_coef.*|moe_layer_frequency"):
        to_native(HfvMixtralForCausalLM(config))
