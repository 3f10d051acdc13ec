"""torch.compile gives the eager outputs (one representative variant per family; compiling is ~10 s each on CPU)."""

import pytest
import torch

from tests.test_common import batch, build, compare_real


@pytest.mark.parametrize("name", ["bert", "llama", "t5"])
def test_torch_compile_matches_eager(name):
    model = build(name, "sdpa")
    inputs = batch(name, model.config)
    compiled = torch.compile(model)
    with torch.no_grad():
        expected, actual = model(**inputs).logits, compiled(**inputs).logits
    assert compare_real(name, expected, actual, inputs["attention_mask"]) < 1e-5
