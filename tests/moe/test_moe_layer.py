"""The mixture-of-experts layer: grouped == eager, routing and capacity semantics, losses vs native formulas."""

import pytest
import torch

from hf_variants.core.config import HfvConfig
from hf_variants.core.moe import (
    SparseMoE,
    expert_capacity,
    load_balancing_loss,
    moe_auxiliary_loss,
    router_z_loss,
    switch_load_balancing_loss,
)


def _config(**overrides) -> HfvConfig:
    base = dict(hidden_size=16, intermediate_size=24, num_attention_heads=2, num_hidden_layers=2, num_experts=4,
                num_experts_per_tok=2, hidden_act="silu", ffn_type="glu", mlp_bias=False)
    return HfvConfig(**{**base, **overrides})


def _layer(config: HfvConfig, seed: int = 0) -> SparseMoE:
    torch.manual_seed(seed)
    layer = SparseMoE(config)
    for param in layer.parameters():
        torch.nn.init.normal_(param, std=0.3)
    return layer


ROUTINGS = [dict(), dict(num_experts_per_tok=1), dict(router_type="switch", num_experts_per_tok=1),
            dict(router_type="switch", num_experts_per_tok=1, expert_capacity_factor=0.5),
            dict(num_experts=8, num_experts_per_tok=3)]


@pytest.mark.parametrize("routing", ROUTINGS)
@pytest.mark.parametrize("ffn", [dict(ffn_type="glu"), dict(ffn_type="mlp", hidden_act="gelu", mlp_bias=True),
                                 dict(intermediate_size=37)])  # 37: unaligned, the segment fallback
def test_grouped_equals_eager(routing, ffn):
    layer = _layer(_config(**routing, **ffn))
    x = torch.randn(3, 11, 16, requires_grad=True)
    results = []
    for implementation in ("grouped", "eager"):
        layer.experts.implementation = implementation
        out, logits = layer(x)
        grads = torch.autograd.grad(out.pow(2).sum(), [x, *layer.parameters()])
        results.append((out, logits, grads))
    (out_g, logits_g, grads_g), (out_e, logits_e, grads_e) = results
    torch.testing.assert_close(out_g, out_e, atol=1e-5, rtol=1e-5)
    assert torch.equal(logits_g, logits_e)
    for grad_g, grad_e in zip(grads_g, grads_e):
        torch.testing.assert_close(grad_g, grad_e, atol=1e-4, rtol=1e-4)


def test_moe_implementation_is_selected_by_config():
    assert SparseMoE(_config(moe_implementation="eager")).experts.implementation == "eager"
    with pytest.raises(ValueError, match="moe_implementation"):
        _config(moe_implementation="loop")


def _expert_output(layer: SparseMoE, token: torch.Tensor, expert: int) -> torch.Tensor:
    gate, up = (layer.experts.gate_up_proj[expert] @ token).chunk(2)
    return layer.experts.down_proj[expert] @ (torch.nn.functional.silu(gate) * up)


def test_topk_renormalises_the_chosen_probabilities():
    layer = _layer(_config(num_experts_per_tok=2))
    x = torch.randn(1, 5, 16)
    out, logits = layer(x)
    assert logits.shape == (5, 4)  # [batch * seq, experts], as native Mixtral
    for t in range(5):
        probs = logits[t].softmax(-1)
        top = probs.topk(2)
        weights = top.values / top.values.sum()
        expected = sum(w * _expert_output(layer, x[0, t], e) for w, e in zip(weights, top.indices.tolist()))
        torch.testing.assert_close(out[0, t], expected, atol=1e-5, rtol=1e-5)


def test_switch_weights_by_raw_probability_and_drops_past_capacity():
    layer = _layer(_config(router_type="switch", num_experts_per_tok=1, expert_capacity=2))
    with torch.no_grad():  # every token prefers expert 1: only the first two of each sequence are kept
        layer.gate.weight.zero_()
        layer.gate.weight[1] = 1.0
    x = torch.rand(2, 6, 16) + 0.1
    out, logits = layer(x)
    probs = logits.softmax(-1)
    assert (probs.argmax(-1) == 1).all()
    for b in range(2):
        for t in range(2):
            expected = probs[b, t, 1] * _expert_output(layer, x[b, t], 1)  # raw probability, not renormalised
            torch.testing.assert_close(out[b, t], expected, atol=1e-5, rtol=1e-5)
        assert torch.equal(out[b, 2:], torch.zeros_like(out[b, 2:]))  # dropped: the residual passes them


def test_capacity_from_factor():
    config = _config(router_type="switch", num_experts_per_tok=1, expert_capacity_factor=1.25)
    assert expert_capacity(config, 16) == 5  # ceil(1.25 * 16 / 4)
    assert expert_capacity(_config(router_type="switch", num_experts_per_tok=1), 16) is None
    with pytest.raises(ValueError, match="exclusive"):
        _config(num_experts_per_tok=1, expert_capacity=4, expert_capacity_factor=1.0)
    with pytest.raises(ValueError, match="num_experts_per_tok"):
        _config(router_type="switch", num_experts_per_tok=2)
    with pytest.raises(ValueError, match="router_type"):
        _config(router_type="hash")


def test_jitter_only_in_training():
    layer = _layer(_config(router_jitter_noise=0.5))
    x = torch.randn(2, 4, 16)
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])
    layer.train()
    assert not torch.equal(layer(x)[0], layer(x)[0])


def test_losses_match_native_formulas():
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func as mixtral_loss
    from transformers.models.switch_transformers.modeling_switch_transformers import (
        load_balancing_loss_func as switch_loss,
    )
    from transformers.models.switch_transformers.modeling_switch_transformers import router_z_loss_func

    torch.manual_seed(0)
    logits = tuple(torch.randn(3, 7, 8) for _ in range(2))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[0, 5:] = 0
    flat = tuple(layer.reshape(-1, 8) for layer in logits)
    torch.testing.assert_close(load_balancing_loss(logits, 8, 2), mixtral_loss(flat, 8, 2))
    torch.testing.assert_close(load_balancing_loss(logits, 8, 2, mask), mixtral_loss(flat, 8, 2, mask))
    joined = torch.cat(logits, dim=1)
    torch.testing.assert_close(switch_load_balancing_loss(logits, 8), switch_loss(joined.softmax(-1),
                                                                                   joined.argmax(-1)))
    torch.testing.assert_close(router_z_loss(logits), router_z_loss_func(joined))
    config = _config(num_experts=8, router_aux_loss_coef=0.01, router_z_loss_coef=0.001)
    expected = 0.01 * mixtral_loss(flat, 8, 2) + 0.001 * router_z_loss_func(joined)
    torch.testing.assert_close(moe_auxiliary_loss(config, logits), expected)
    assert moe_auxiliary_loss(_config(), logits) is None  # both coefficients 0


@pytest.mark.parametrize("ffn", [dict(ffn_type="glu"), dict(ffn_type="mlp", hidden_act="gelu", mlp_bias=True)])
def test_grouped_backward_from_a_plain_sum(ffn):
    """grouped_mm's CPU backward rejects stride-0 gradients; the layer must never hand it one."""
    layer = _layer(_config(**ffn))
    x = torch.randn(2, 5, 16, requires_grad=True)
    layer(x)[0].sum().backward()
    assert torch.isfinite(x.grad).all() and layer.experts.down_proj.grad.abs().sum() > 0
