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


@pytest.mark.parametrize("name", ["gpt2", "llama", "mistral", "mixtral"])
def test_can_compile_fullgraph_flag_is_true_where_the_forward_traces_into_one_graph(name):
    """`_can_compile_fullgraph` (transformers' flag) is set where dynamo traces the decoder forward without graph
    breaks: a training-style forward and a static-cache decode step. A model with experts (Mixtral) does not claim it."""
    from transformers import StaticCache

    import hf_variants
    from tests.variant_configs import tiny_config

    torch.manual_seed(0)
    model = hf_variants.VARIANTS[name].classes["ForCausalLM"](tiny_config(name)).eval()
    if not model._can_compile_fullgraph:
        assert name == "mixtral"
        return
    ids = torch.randint(3, 99, (2, 6), generator=torch.Generator().manual_seed(0))
    cache = StaticCache(config=model.config, max_cache_len=12)
    with torch.no_grad():
        model(input_ids=ids, attention_mask=torch.ones_like(ids), cache=cache, use_cache=True)
    for inputs in (dict(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False),
                   dict(input_ids=ids[:, :1], attention_mask=torch.ones(2, 12, dtype=torch.long), cache=cache,
                        use_cache=True, position_ids=torch.full((2, 1), 6))):
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(model)(**inputs)
        assert explanation.graph_break_count == 0, explanation.break_reasons
