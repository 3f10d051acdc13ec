"""Two `hfv pretrain` runs with one --seed give bitwise the same weights (issue 14): the span-corruption and
denoising collators draw their noise from the seeded RNG, not from fresh entropy."""

import pytest
import torch
from safetensors.torch import load_file

from hf_variants.training.pretrain import pretrain


@pytest.mark.parametrize("variant", ["t5", "bart"])
def test_two_pretrain_runs_with_one_seed_are_equal(variant, tmp_path):
    weights = []
    for run in ("a", "b"):
        pretrain(variant, str(tmp_path / run), steps=2, batch_size=4, max_examples=60, max_validation=8, seed=3,
                 quiet=True)
        weights.append(load_file(tmp_path / run / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
