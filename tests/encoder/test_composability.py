"""Every encoder variant builds, trains a step and round-trips with every element combination of SPEC §4."""

import itertools

import pytest
import torch
from transformers import AutoModelForMaskedLM

import hf_variants
from tests.variant_configs import tiny_config

ENCODERS = sorted(n for n, s in hf_variants.VARIANTS.items() if s.family == "encoder")
GRID = list(itertools.product(
    ["learned", "sinusoidal", "rope", "alibi", "relative_bias", "none"], ["layernorm", "rmsnorm"], ["pre", "post"],
    ["mlp", "glu"],
))


@pytest.mark.parametrize("name", ENCODERS)
def test_every_element_combination(name, tmp_path):
    ids = torch.randint(4, 99, (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    for position, norm, placement, ffn in GRID:
        extra = {"pad_aware_positions": False} if position not in ("learned", "sinusoidal") else {}
        config = tiny_config(name, position_embedding_type=position, norm_type=norm, norm_position=placement,
                             ffn_type=ffn, num_hidden_layers=1, num_hidden_groups=1, **extra)
        model = AutoModelForMaskedLM.from_config(config)
        out = model(input_ids=ids, attention_mask=mask, labels=ids)
        out.loss.backward()
        assert torch.isfinite(out.loss), (position, norm, placement, ffn)
        assert model.get_input_embeddings().weight.grad.abs().sum() > 0
        path = tmp_path / f"{position}-{norm}-{placement}-{ffn}"
        model.eval().save_pretrained(path)
        loaded = AutoModelForMaskedLM.from_pretrained(path).eval()
        assert type(loaded) is type(model) and loaded.config.position_embedding_type == position
        with torch.no_grad():
            assert torch.equal(model(input_ids=ids, attention_mask=mask).logits,
                               loaded(input_ids=ids, attention_mask=mask).logits)


def test_impossible_combination_is_refused_by_the_config():
    with pytest.raises(ValueError, match="position_offset/pad_aware_positions only apply to absolute positions"):
        tiny_config("roberta", position_embedding_type="alibi")  # RoBERTa's pad-aware offset needs absolute ids
    with pytest.raises(ValueError, match="even head dimension"):
        tiny_config("bert", position_embedding_type="rope", num_attention_heads=2, head_dim=5)
