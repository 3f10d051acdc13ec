"""Every SPEC §4 element on every decoder: causal, cache-consistent and generation-consistent.

For each element combination: later tokens never change earlier outputs; prefill + one-token cached steps equal
the full forward on a left-padded batch; greedy generation is the same with a dynamic cache, a static cache and no
cache at all.
"""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from tests.decoder.helpers import PAD, causal_lm, left_padded, mask_positions, max_diff

ATOL = 1e-5
ELEMENTS = {
    "learned": {"position_embedding_type": "learned"},
    "sinusoidal": {"position_embedding_type": "sinusoidal"},
    "rope": {"position_embedding_type": "rope"},
    "rope-partial": {"position_embedding_type": "rope",
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5}},
    "alibi": {"position_embedding_type": "alibi"},
    "relative_bias": {"position_embedding_type": "relative_bias"},
    "none": {"position_embedding_type": "none"},
    "post-layernorm": {"norm_type": "layernorm", "norm_position": "post"},
    "pre-rmsnorm": {"norm_type": "rmsnorm", "norm_position": "pre"},
    "post-rmsnorm": {"norm_type": "rmsnorm", "norm_position": "post"},
    "mlp-gelu": {"ffn_type": "mlp", "hidden_act": "gelu"},
    "swiglu": {"ffn_type": "glu", "hidden_act": "silu"},
    "geglu": {"ffn_type": "glu", "hidden_act": "gelu"},
    "mqa": {"num_key_value_heads": 1},
    "sliding-window+alibi": {"sliding_window": 3, "position_embedding_type": "alibi"},
    "shared-layers": {"num_hidden_groups": 1},
    "moe-top2": {"num_experts": 4, "num_experts_per_tok": 2, "router_aux_loss_coef": 0.01},
}
CASES = [(name, element) for name in ("gpt2", "llama", "mistral") for element in ELEMENTS
         if not (name == "mistral" and element not in ("alibi", "relative_bias", "post-layernorm", "moe-top2"))]


@pytest.mark.parametrize("name,element", CASES)
def test_decoder_element(name, element):
    model = causal_lm(name, **ELEMENTS[element])
    ids, mask = left_padded(length=9)
    positions = mask_positions(mask)
    with torch.no_grad():
        full = model(ids, attention_mask=mask, position_ids=positions).logits
        # Causality: a different last token leaves every earlier real position unchanged (padding rows attend to
        # nothing real, so their outputs are unspecified).
        changed = ids.clone()
        changed[:, -1] = (ids[:, -1] + 1) % 90 + 3
        after = model(changed, attention_mask=mask, position_ids=positions).logits
        assert max_diff(full[:, :-1], after[:, :-1], mask[:, :-1]) <= ATOL

        cache = DynamicCache(config=model.config)
        steps = [model(ids[:, :5], attention_mask=mask[:, :5], position_ids=positions[:, :5],
                       past_key_values=cache).logits]
        for i in range(5, ids.shape[1]):
            steps.append(model(ids[:, i:i + 1], attention_mask=mask[:, :i + 1], position_ids=positions[:, i:i + 1],
                               past_key_values=cache).logits)
    assert max_diff(full, torch.cat(steps, dim=1), mask) <= ATOL

    runs = [model.generate(ids, attention_mask=mask, max_new_tokens=5, min_new_tokens=5, do_sample=False,
                           pad_token_id=PAD, **kwargs)
            for kwargs in ({}, {"use_cache": False}, {"cache_implementation": "static"})]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
@pytest.mark.parametrize("position", ["alibi", "relative_bias"])
def test_position_bias_with_static_cache_scores(backend, position):
    """generate prepares a boolean 4-D mask for a static cache; the additive bias must keep it masking."""
    model = causal_lm("gpt2", attn_implementation=backend, position_embedding_type=position)
    ids, mask = left_padded(length=7)
    scores = [model.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=PAD,
                             return_dict_in_generate=True, output_logits=True, **kwargs).logits
              for kwargs in ({}, {"cache_implementation": "static"})]
    for dynamic, static in zip(*scores, strict=True):
        assert max_diff(dynamic, static) <= ATOL
