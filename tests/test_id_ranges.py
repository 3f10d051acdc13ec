"""Out-of-range ids fail with a ValueError naming the argument and the allowed range, on every path that looks them
up: on CPU the lookup runs first and only a failed lookup is checked (core/embeddings.py `Embeddings.lookup`)."""

import pytest
import torch

import hf_variants
from tests.variant_configs import tiny_config

V = hf_variants.VARIANTS


def _model(variant: str, head: str):
    torch.manual_seed(0)
    return V[variant].classes[head](tiny_config(variant)).eval()


@pytest.mark.parametrize("variant,head", [("llama", "ForCausalLM"), ("gpt2", "ForCausalLM"), ("bert", "ForMaskedLM"),
                                          ("bart", "ForConditionalGeneration")])
@pytest.mark.parametrize("bad", [10_000, -1])
def test_token_id_out_of_range(variant, head, bad):
    model = _model(variant, head)
    top = model.config.vocab_size - 1
    ids = torch.tensor([[5, bad, 7]])
    extra = {"decoder_input_ids": torch.tensor([[1, 2]])} if model.config.is_encoder_decoder else {}
    with pytest.raises(ValueError, match=rf"input_ids must be in \[0, {top}\], got values in \[{min(5, bad)}, "
                                         rf"{max(7, bad)}\]"):
        model(input_ids=ids, **extra)


def test_decoder_token_id_out_of_range_in_a_cached_step():
    model = _model("llama", "ForCausalLM")
    out = model(input_ids=torch.tensor([[5, 6]]), use_cache=True)
    with pytest.raises(ValueError, match=r"input_ids must be in \[0, \d+\], got values in \[10000, 10000\]"):
        model(input_ids=torch.tensor([[10_000]]), cache=out.cache if hasattr(out, "cache") else out.past_key_values)


def test_position_id_out_of_range_names_the_table():
    model = _model("gpt2", "ForCausalLM")
    limit = model.config.max_position_embeddings
    with pytest.raises(ValueError, match=rf"position ids must be in \[0, {limit - 1}\], got values in \[1, {limit}\]"
                                         r" \(sequence longer than max_position_embeddings\?\)"):
        model(input_ids=torch.tensor([[5, 6]]), position_ids=torch.tensor([[1, limit]]))
