"""Training with labels fills no KV cache (as native BART): no key/value copies, same loss."""

import pytest
import torch

import hf_variants
from hf_variants.core.compat import output_cache
from tests.variant_configs import tiny_config


@pytest.mark.parametrize("name", ["bart", "t5"])
def test_labels_turn_the_cache_off_unless_asked(name):
    model = hf_variants.VARIANTS[name].classes["ForConditionalGeneration"](tiny_config(name)).train()
    ids, labels = torch.randint(3, 99, (2, 10)), torch.randint(3, 99, (2, 6))
    default = model(input_ids=ids, labels=labels)
    assert output_cache(default) is None
    asked = model(input_ids=ids, labels=labels, use_cache=True)
    assert output_cache(asked) is not None
    torch.testing.assert_close(default.loss, asked.loss, rtol=0, atol=0)
