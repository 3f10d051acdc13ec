"""Tiny native decoder configs and left-padded inputs shared by the decoder tests."""

from __future__ import annotations

import torch
import transformers

import hf_variants

VOCAB = 99
PAD = 0
# Native config builders; kwargs override (e.g. num_key_value_heads, sliding_window, rope_parameters).
NATIVE_CONFIGS = {
    "GPT2": lambda **kw: transformers.GPT2Config(
        **{"n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": VOCAB, "n_positions": 64, "pad_token_id": PAD,
           "bos_token_id": 1, "eos_token_id": 2, **kw}),
    "Llama": lambda **kw: transformers.LlamaConfig(
        **{"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2,
           "intermediate_size": 37, "vocab_size": VOCAB, "max_position_embeddings": 64, "pad_token_id": PAD,
           "bos_token_id": 1, "eos_token_id": 2, **kw}),
    "Mistral": lambda **kw: transformers.MistralConfig(
        **{"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 1,
           "intermediate_size": 37, "vocab_size": VOCAB, "max_position_embeddings": 64, "pad_token_id": PAD,
           "bos_token_id": 1, "eos_token_id": 2, "sliding_window": 4, **kw}),
}
CAUSAL_LM = {"GPT2": "GPT2LMHeadModel", "Llama": "LlamaForCausalLM", "Mistral": "MistralForCausalLM"}


def native_model(prefix: str, head: str = "CausalLM", attn_implementation: str = "eager", seed: int = 0, **kw):
    """A randomly initialised native model in eval mode (head "CausalLM" picks GPT2LMHeadModel for GPT-2)."""
    torch.manual_seed(seed)
    name = CAUSAL_LM[prefix] if head == "CausalLM" else prefix + head
    config = NATIVE_CONFIGS[prefix](**kw)
    config._attn_implementation = attn_implementation
    return getattr(transformers, name)(config).eval()


def left_padded(batch_size: int = 3, length: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids avoiding special ids; rows 1 and 2 left-padded with PAD."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch_size, length), generator=generator)
    mask = torch.ones_like(ids)
    if batch_size > 1:
        mask[1, :3] = 0
    if batch_size > 2:
        mask[2, : length // 2 + 1] = 0
    return ids.masked_fill(mask == 0, PAD), mask


def mask_positions(mask: torch.Tensor) -> torch.Tensor:
    """The position ids `generate` derives from a left-padded mask."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def tiny(name: str, **overrides):
    """A tiny hf_variants config of variant `name`."""
    from tests.variant_configs import tiny_config

    return tiny_config(name, **overrides)


def causal_lm(name: str, attn_implementation: str = "eager", seed: int = 0, **overrides):
    """A tiny randomly initialised hf_variants causal LM in eval mode."""
    torch.manual_seed(seed)
    model = hf_variants.VARIANTS[name].classes["ForCausalLM"](tiny(name, **overrides)).eval()
    model.set_attn_implementation(attn_implementation)
    return model


def max_diff(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    if mask is not None:
        a, b = a[mask.bool()], b[mask.bool()]
    return (a - b).abs().max().item()
