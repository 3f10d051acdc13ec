"""hfv_switch against native SwitchTransformersForConditionalGeneration: logits with the same capacity-limited
token dropping on a padded batch (both expert paths), router z-loss and balancing loss per stack, the total loss,
cached greedy generation, and exact state-dict round trips both ways."""

from __future__ import annotations

import re

import pytest
import torch
from transformers import SwitchTransformersConfig, SwitchTransformersForConditionalGeneration

from hf_variants.convert import from_native, to_native
from hf_variants.core.moe import moe_losses
from hf_variants.variants.switch import HfvSwitchConfig, HfvSwitchForConditionalGeneration

CAPACITY = 3  # tokens per expert per sequence: small enough that the batch below overflows it
NATIVE_TINY = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_heads=4, num_layers=4, num_decoder_layers=4,
                   num_sparse_encoder_layers=2, num_sparse_decoder_layers=2, num_experts=4, expert_capacity=CAPACITY,
                   dropout_rate=0.0, router_z_loss_coef=0.01, router_aux_loss_coef=0.02)


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    native = SwitchTransformersForConditionalGeneration(SwitchTransformersConfig(**NATIVE_TINY)).eval()
    ours = from_native(native).eval()
    assert isinstance(ours, HfvSwitchForConditionalGeneration)
    return native, ours


def _padded_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 99, (3, 9), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    mask[2, 4:] = 0
    decoder = torch.randint(3, 99, (3, 7), generator=generator)
    decoder_mask = torch.ones_like(decoder)
    decoder_mask[2, 4:] = 0
    return dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder, decoder_attention_mask=decoder_mask)


def test_config_and_layers(pair):
    _, ours = pair
    config = ours.config
    assert (config.router_type, config.expert_capacity, config.moe_layer_frequency) == ("switch", CAPACITY, 2)
    for stack in (ours.model.encoder, ours.model.decoder):
        assert [i for i, layer in enumerate(stack.layers) if hasattr(layer.mlp, "experts")] == [1, 3]
    default = HfvSwitchConfig()  # switch-base-8
    assert (default.num_experts, default.num_experts_per_tok, default.expert_capacity) == (8, 1, 64)


def stacked_copy(ours: HfvSwitchForConditionalGeneration, implementation: str) -> HfvSwitchForConditionalGeneration:
    """The same weights in `expert_layout="stacked"`: each projection's per-expert Linears as one [E, out, in]."""
    config = HfvSwitchConfig(**{**ours.config.to_dict(), "expert_layout": "stacked",
                                "moe_implementation": implementation})
    stacked = HfvSwitchForConditionalGeneration(config).eval()
    state, groups = {}, {}
    for key, value in ours.state_dict().items():
        match = re.match(r"(.*\.experts)\.(\d+)\.(up_proj|down_proj)\.weight$", key)
        if match is None:
            state[key] = value
        else:
            groups.setdefault(f"{match[1]}.{match[3]}", {})[int(match[2])] = value
    state.update({key: torch.stack([e[i] for i in range(len(e))]) for key, e in groups.items()})
    stacked.load_state_dict(state, strict=True)
    return stacked


@pytest.mark.parametrize("layout", ["separate", "stacked-grouped", "stacked-eager"])
def test_logits_match_native_with_dropping(pair, layout):
    native, ours = pair
    if layout != "separate":
        ours = stacked_copy(ours, layout.split("-")[1])
    inputs = _padded_batch()
    with torch.no_grad():
        expected = native(**inputs, output_router_logits=True)
        got = ours(**inputs)
    real = inputs["decoder_attention_mask"].bool()
    assert (expected.logits - got.logits)[real].abs().max() <= 1e-5
    for mine, theirs in ((got.encoder_router_logits, expected.encoder_router_logits),
                         (got.decoder_router_logits, expected.decoder_router_logits)):
        assert len(mine) == len(theirs) == 2
        for a, b in zip(mine, theirs):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
            assert torch.equal(a.argmax(-1), b.argmax(-1))  # the same routing decisions
    # the batch really overflows the capacity: some sequence sends more than CAPACITY tokens to one expert
    load = torch.nn.functional.one_hot(got.encoder_router_logits[0].argmax(-1), 4).sum(dim=1)
    assert load.max() > CAPACITY


def test_router_losses_equal_native(pair):
    native, ours = pair
    inputs = _padded_batch()
    labels = inputs["decoder_input_ids"].masked_fill(inputs["decoder_attention_mask"] == 0, -100)
    with torch.no_grad():
        expected = native(**inputs, labels=labels, output_router_logits=True)
        got = ours(**inputs, labels=labels)  # no output_router_logits needed: the losses are always added
    for stack in ("encoder", "decoder"):
        losses = moe_losses(ours.config, getattr(got, f"{stack}_router_logits"))
        torch.testing.assert_close(losses["z_loss"], getattr(expected, f"{stack}_z_loss"), atol=1e-5, rtol=1e-6)
        torch.testing.assert_close(losses["aux_loss"], getattr(expected, f"{stack}_aux_loss"), atol=1e-6, rtol=1e-6)
        for name in ("aux_loss", "z_loss"):  # returned unweighted under native's names
            torch.testing.assert_close(getattr(got, f"{stack}_{name}"), getattr(expected, f"{stack}_{name}"),
                                       atol=1e-5, rtol=1e-6)
    weighted = 0.01 * (expected.encoder_z_loss + expected.decoder_z_loss) \
        + 0.02 * (expected.encoder_aux_loss + expected.decoder_aux_loss)
    torch.testing.assert_close(0.01 * got.z_loss + 0.02 * got.aux_loss, weighted, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-5, rtol=1e-6)


def test_cached_greedy_generation_matches_native(pair):
    native, ours = pair
    inputs = _padded_batch()
    args = dict(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], max_new_tokens=8,
                min_new_tokens=8, do_sample=False, decoder_start_token_id=0)
    with torch.no_grad():
        assert torch.equal(native.generate(**args), ours.generate(**args))


def test_state_dict_round_trips_exact(pair):
    native, ours = pair
    back = to_native(ours)
    assert type(back) is SwitchTransformersForConditionalGeneration
    assert back.config.encoder_sparse_step == back.config.decoder_sparse_step == 2
    theirs, again = native.state_dict(), back.state_dict()
    assert theirs.keys() == again.keys()
    assert all(torch.equal(theirs[k], again[k]) for k in theirs)
    mine, twice = ours.state_dict(), from_native(back).state_dict()
    assert mine.keys() == twice.keys() and all(torch.equal(mine[k], twice[k]) for k in mine)
    assert mine["model.encoder.layers.1.mlp.experts.0.up_proj.weight"].shape == (37, 32)
    torch.testing.assert_close(mine["model.encoder.layers.1.mlp.experts.2.down_proj.weight"],
                               theirs["encoder.block.1.layer.1.mlp.experts.expert_2.wo.weight"], atol=0, rtol=0)
    # stacked experts convert to the same native state dict
    stacked = to_native(stacked_copy(ours, "grouped")).state_dict()
    assert stacked.keys() == theirs.keys() and all(torch.equal(theirs[k], stacked[k]) for k in theirs)


def test_conversion_refuses_what_the_other_side_cannot_express():
    torch.manual_seed(0)
    ours = HfvSwitchForConditionalGeneration(HfvSwitchConfig(
        vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=4, head_dim=8, intermediate_size=37,
        num_experts=4, expert_capacity=None, expert_capacity_factor=1.25, moe_layer_frequency=3))
    # every layer (frequency 1) or every other layer (2) is native; every third is not
    with pytest.raises(ValueError, match="moe_layer_frequency=3.*expert_capacity=None"):
        to_native(ours)
    # native sparse step 4 (layers 1 only of 4) is not our every-other-layer pattern
    native = SwitchTransformersForConditionalGeneration(SwitchTransformersConfig(
        **{**NATIVE_TINY, "num_sparse_encoder_layers": 1}))
    with pytest.raises(ValueError, match="num_sparse_encoder_layers=1"):
        from_native(native)


def test_checkpoint_conversion_uneven_depths_and_sdpa(tmp_path):
    """3 encoder / 5 decoder layers (native sparse steps 3 and 2 give our layers 1 and 1, 3); our sdpa model
    converts to native eager attention (the only one native has), on disk both ways."""
    from hf_variants.convert import convert_checkpoint

    torch.manual_seed(0)
    config = SwitchTransformersConfig(**{**NATIVE_TINY, "num_layers": 3, "num_sparse_encoder_layers": 1,
                                         "num_decoder_layers": 5})
    SwitchTransformersForConditionalGeneration(config).save_pretrained(tmp_path / "native")
    ours = convert_checkpoint(tmp_path / "native", tmp_path / "ours")
    assert [hasattr(layer.mlp, "experts") for layer in ours.model.decoder.layers] == [False, True, False, True, False]
    ours = HfvSwitchForConditionalGeneration.from_pretrained(tmp_path / "ours", attn_implementation="sdpa").eval()
    native = convert_checkpoint(tmp_path / "ours", tmp_path / "back").eval()
    assert native.config._attn_implementation == "eager"
    inputs = _padded_batch()
    with torch.no_grad():
        diff = (native(**inputs).logits - ours(**inputs).logits)[inputs["decoder_attention_mask"].bool()]
    assert diff.abs().max() <= 1e-5
