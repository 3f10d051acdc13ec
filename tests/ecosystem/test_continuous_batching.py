"""Continuous batching (paged attention) on every decoder variant: `generate_batch` gives generate()'s greedy
tokens per prompt, worker failures reach the caller, the CPU cache is bounded."""

import pytest
import torch
from transformers import ContinuousBatchingConfig, GenerationConfig

import hf_variants
from hf_variants.families.continuous_batching import CPU_NUM_BLOCKS, bounded_config
from tests.decoder.helpers import causal_lm

DECODERS = [name for name, spec in hf_variants.VARIANTS.items() if spec.family == "decoder"]
# lengths chosen to cross mistral's sliding window (4) and to pack requests of different lengths
PROMPTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19, 20, 21, 22, 23]]
NEW_TOKENS = 6
# element overrides that change how attention is positioned or grouped (ALiBi / T5 bias, MQA)
ELEMENTS = {"alibi": {"position_embedding_type": "alibi"},
            "relative_bias": {"position_embedding_type": "relative_bias"},
            "mqa": {"num_key_value_heads": 1}}


def greedy(model, prompt):
    out = model.generate(torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=None,
                         pad_token_id=0)
    return out[0, len(prompt):].tolist()


def batched(model, implementation):
    model.set_attn_implementation(implementation)
    config = GenerationConfig(max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=-1, pad_token_id=0)
    results = model.generate_batch(PROMPTS, generation_config=config)
    return [out.generated_tokens for out in results.values()]


def check_same_tokens(model, implementation):
    expected = [greedy(model, prompt) for prompt in PROMPTS]
    assert batched(model, implementation) == expected


@pytest.mark.parametrize("implementation", ["paged|sdpa", "paged|eager"])
@pytest.mark.parametrize("name", DECODERS)
def test_generate_batch_equals_generate(name, implementation):
    check_same_tokens(causal_lm(name, "sdpa"), implementation)


@pytest.mark.parametrize("element", ELEMENTS)
def test_generate_batch_position_biases_and_mqa(element):
    check_same_tokens(causal_lm("llama", "sdpa", **ELEMENTS[element]), "paged|sdpa")


def test_bias_with_sliding_window_is_refused():
    model = causal_lm("mistral", "sdpa", position_embedding_type="alibi")
    with pytest.raises(ValueError, match="position_embedding_type='alibi' with sliding_window=4"):
        batched(model, "paged|sdpa")


def test_worker_failure_raises_in_caller():
    model = causal_lm("llama", "sdpa")

    def fail(module, args):
        raise RuntimeError("layer 1 exploded")

    model.model.decoder.layers[1].register_forward_pre_hook(fail)
    with pytest.raises(RuntimeError, match="layer 1 exploded"):
        batched(model, "paged|sdpa")


def test_cpu_cache_is_bounded_by_default():
    config = bounded_config(None, torch.device("cpu"))
    assert config.num_blocks == CPU_NUM_BLOCKS and config.max_batch_tokens is not None
    chosen = ContinuousBatchingConfig(max_memory_percent=0.5)
    assert bounded_config(chosen, torch.device("cpu")) is chosen  # the user's sizing wins
    model = causal_lm("llama", "sdpa")
    model.set_attn_implementation("paged|sdpa")
    manager = model.init_continuous_batching(GenerationConfig(max_new_tokens=2, eos_token_id=-1))
    try:
        assert manager.continuous_batching_config.num_blocks == CPU_NUM_BLOCKS
    finally:
        manager.destroy()
