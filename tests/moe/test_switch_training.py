"""hfv_switch trains like native Switch Transformers: its experts are separate modules (`expert_layout="separate"`),
so an expert that received no token has no gradient and AdamW leaves it untouched, as in native, where stacked
[experts, out, in] weights would give it a zero gradient that AdamW still decays and moves. Also: checkpoints saved
before the layout field existed (stacked experts, no `expert_layout` in config.json) still load exactly."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, SwitchTransformersConfig, SwitchTransformersForConditionalGeneration

from hf_variants.convert import from_native
from hf_variants.variants.switch import HfvSwitchConfig, HfvSwitchForConditionalGeneration
from tests.moe.test_switch import NATIVE_TINY, stacked_copy


def _pair():
    torch.manual_seed(0)
    native = SwitchTransformersForConditionalGeneration(SwitchTransformersConfig(
        **{**NATIVE_TINY, "router_z_loss_coef": 0.001, "router_aux_loss_coef": 0.001,
           "router_jitter_noise": 0.0})).train()
    ours = from_native(native).train()
    return native, ours


def _step(model, optimizer, batch, native: bool) -> None:
    extra = {"output_router_logits": True} if native else {}
    model(**batch, **extra).loss.backward()
    optimizer.step()


def test_idle_experts_get_no_gradient_and_no_adamw_step_as_native():
    native, ours = _pair()
    # one short sequence: at most 2 of the 4 experts of a layer receive a token
    batch = dict(input_ids=torch.tensor([[5, 17]]), decoder_input_ids=torch.tensor([[0, 7]]),
                 labels=torch.tensor([[7, 9]]))
    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1) for m in (native, ours)]
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    experts = {name: p for name, p in ours.named_parameters() if ".experts." in name}
    idle = set(experts)
    for _ in range(2):
        for model, optimizer, is_native in ((native, optimizers[0], True), (ours, optimizers[1], False)):
            optimizer.zero_grad(set_to_none=True)
            _step(model, optimizer, batch, is_native)
        idle &= {name for name, p in experts.items() if p.grad is None}
    assert idle and len(idle) < len(experts)  # some experts idle in both steps, some used
    assert all(torch.equal(experts[name], before[name]) for name in idle)  # no weight decay, no momentum step
    native_idle = [name for name, p in native.named_parameters() if ".experts." in name and p.grad is None]
    assert len(native_idle) == sum(p.grad is None for p in experts.values())
    # every parameter after two AdamW steps equals native's
    back = from_native(native).state_dict()
    mine = ours.state_dict()
    assert back.keys() == mine.keys()
    for key in mine:
        torch.testing.assert_close(mine[key], back[key], atol=1e-6, rtol=1e-5, msg=key)


def test_separate_layout_needs_the_expert_loop():
    with pytest.raises(ValueError, match="expert_layout='separate'.*moe_implementation='grouped'"):
        HfvSwitchConfig(moe_implementation="grouped")
    with pytest.raises(ValueError, match="expert_layout='rows'"):
        HfvSwitchConfig(expert_layout="rows")
    assert HfvSwitchConfig(expert_layout="stacked", moe_implementation="grouped").moe_implementation == "grouped"


def test_saved_layout_round_trips(tmp_path):
    _, ours = _pair()
    ours.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["expert_layout"] == "separate"
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    assert loaded.config.expert_layout == "separate"
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), loaded.state_dict().values()))


def test_checkpoint_saved_before_the_layout_field_loads_stacked(tmp_path):
    _, ours = _pair()
    old = stacked_copy(ours.eval(), "grouped")
    old.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    for field in ("expert_layout", "moe_implementation"):  # what the previous release wrote: neither field
        config.pop(field, None)
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded, info = HfvSwitchForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
    assert loaded.config.expert_layout == "stacked"
    assert not info["missing_keys"] and not info["unexpected_keys"]
    expected = old.state_dict()
    assert loaded.state_dict().keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())
