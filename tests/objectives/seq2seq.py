"""Tiny encoder-decoder models for the seq2seq objective tests (skipped while a variant is not declared)."""

from __future__ import annotations

import pytest
import torch


def tiny_seq2seq(name: str, tokenizer, **overrides):
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    import hf_variants

    if name not in hf_variants.VARIANTS:
        pytest.skip(f"variant {name!r} is not declared yet")
    torch.manual_seed(0)
    values = dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_decoder_layers=2,
                  num_attention_heads=4, intermediate_size=64, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0, pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id)
    values.update(overrides)
    config = AutoConfig.for_model(hf_variants.VARIANTS[name].model_type, **values)
    return AutoModelForSeq2SeqLM.from_config(config)
