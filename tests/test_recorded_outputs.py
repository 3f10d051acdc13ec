"""Recorded outputs against native transformers: every hidden state, attention map, cross-attention map and router
logit a base model records (core/recording.py) equals native's on the same weights (fp32, eager attention, a
right-padded batch, real positions compared). ALBERT runs with one block shared by three layers (one hidden state
per layer call, as native); the last hidden state is the normed output (LLaMA, T5, Switch)."""

from __future__ import annotations

import pytest
import torch

import hf_variants
from hf_variants.convert import to_native
from tests.test_common import batch
from tests.variant_configs import tiny_config

CASES = {
    "bert": {},
    "albert": {"num_hidden_layers": 3, "num_hidden_groups": 1},
    "llama": {},
    "mixtral": {},
    "t5": {},
    "bart": {"num_decoder_layers": 2},
    "switch": {},
}
# (output field, which mask selects its real rows): encoder side "source", decoder side "target"
FIELDS = {
    "hidden_states": "source", "attentions": "source", "router_logits": "source",
    "encoder_hidden_states": "source", "encoder_attentions": "source", "encoder_router_logits": "source",
    "decoder_hidden_states": "target", "decoder_attentions": "target", "cross_attentions": "target",
    "decoder_router_logits": "target",
}


def _real_rows(tensor: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hidden states [batch, seq, dim], attentions [batch, heads, query, key] or router logits ([batch * seq, e] or
    [batch, seq, e]) at real positions only (padding outputs are unspecified)."""
    if tensor.dim() == 4:
        return tensor.transpose(1, 2)[mask.bool()]
    return tensor.reshape(*mask.shape, -1)[mask.bool()]


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_outputs_equal_native(name):
    torch.manual_seed(0)
    ours = hf_variants.VARIANTS[name].classes["Model"](tiny_config(name, **CASES[name])).eval()
    native = to_native(ours).eval()
    native.set_attn_implementation("eager")
    if hasattr(native, "set_experts_implementation"):
        native.set_experts_implementation("eager")  # native grouped_mm needs 16-byte strides (37 * 4 bytes is not)
    inputs = batch(name, ours.config)
    masks = {"source": inputs["attention_mask"],
             "target": torch.ones_like(inputs.get("decoder_input_ids", inputs["input_ids"]))}
    flags = dict(output_hidden_states=True, output_attentions=True)
    with torch.no_grad():
        got = ours(**inputs, **flags)
        expected = native(**inputs, **flags, **({"output_router_logits": True} if ours.config.num_experts else {}))
    compared = []
    for field, side in FIELDS.items():
        theirs = getattr(expected, field, None)
        if not theirs:
            continue
        mine = getattr(got, field)
        assert mine is not None and len(mine) == len(theirs), (field, None if mine is None else len(mine), len(theirs))
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            a, b = _real_rows(a, masks[side]), _real_rows(b, masks[side])
            assert (a - b).abs().max().item() <= 1e-5, (field, index)
        compared.append(field)
    assert {"hidden_states", "attentions"} <= set(compared) or {"encoder_attentions", "cross_attentions"} <= set(
        compared), compared
    if ours.config.num_experts:
        assert any(field.endswith("router_logits") for field in compared), compared


def test_shared_block_records_one_hidden_state_per_layer():
    """ALBERT-style sharing: one block, three layer calls -> four hidden states (embeddings output first), each the
    input of the next call."""
    model = hf_variants.VARIANTS["albert"].classes["Model"](tiny_config("albert", num_hidden_layers=3,
                                                                        num_hidden_groups=1)).eval()
    assert len(model.encoder.layers) == 1
    inputs = batch("albert", model.config)
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
        embedded = model.embeddings(inputs["input_ids"], None, None, None)
    assert len(out.hidden_states) == 4
    assert torch.equal(out.hidden_states[0], embedded)
    assert torch.equal(out.hidden_states[-1], out.last_hidden_state)


def test_outputs_not_asked_for_are_not_recorded():
    model = hf_variants.VARIANTS["llama"].classes["ForCausalLM"](tiny_config("llama")).eval()
    with torch.no_grad():
        out = model(**batch("llama", model.config))
    assert out.hidden_states is None and out.attentions is None
