"""Causal-LM packing into fixed blocks with EOS between documents, and learning on the packed blocks."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from hf_variants.objectives import pack_sequences

from .conftest import train_steps
from .corpus import DOCUMENTS


def test_blocks_are_full_and_keep_every_token(gpt2_tokenizer):
    docs = gpt2_tokenizer(DOCUMENTS)["input_ids"]
    eos = gpt2_tokenizer.eos_token_id
    blocks = pack_sequences(docs, 32, eos)
    stream = [t for d in docs for t in d + [eos]]
    assert all(len(b["input_ids"]) == 32 and b["labels"] == b["input_ids"] for b in blocks)
    assert [t for b in blocks for t in b["input_ids"]] == stream[: len(blocks) * 32]
    assert len(blocks) == len(stream) // 32
    assert sum(b["input_ids"].count(eos) for b in blocks) >= len(DOCUMENTS) - 1  # documents separated
    tail = pack_sequences(docs, 32, eos, drop_remainder=False)
    assert len(tail[-1]["input_ids"]) == len(stream) % 32


def test_no_double_eos_and_dataset_input(gpt2_tokenizer):
    eos = gpt2_tokenizer.eos_token_id
    blocks = pack_sequences([[5, 6, eos], [7]], 2, eos, drop_remainder=False)
    assert [t for b in blocks for t in b["input_ids"]] == [5, 6, eos, 7, eos]
    data = Dataset.from_dict({"input_ids": gpt2_tokenizer(DOCUMENTS)["input_ids"], "text": DOCUMENTS})
    packed = pack_sequences(data, 16, eos)
    assert packed.column_names == ["input_ids", "labels"]
    assert set(len(r) for r in packed["input_ids"]) == {16}
    with pytest.raises(ValueError, match="block_size"):
        pack_sequences(data, 0)
    with pytest.raises(ValueError, match="column"):
        pack_sequences(data, 8, column="tokens")


def test_packed_causal_lm_lowers_loss(gpt2_tokenizer):
    from transformers import AutoConfig, AutoModelForCausalLM

    import hf_variants

    if "gpt2" not in hf_variants.VARIANTS:
        pytest.skip("gpt2 is not declared yet")
    torch.manual_seed(0)
    config = AutoConfig.for_model("hfv_gpt2", vocab_size=len(gpt2_tokenizer), hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                  bos_token_id=gpt2_tokenizer.eos_token_id, eos_token_id=gpt2_tokenizer.eos_token_id)
    model = AutoModelForCausalLM.from_config(config)
    blocks = pack_sequences(gpt2_tokenizer(DOCUMENTS)["input_ids"], 48, gpt2_tokenizer.eos_token_id)[:8]
    batch = {k: torch.tensor([b[k] for b in blocks]) for k in ("input_ids", "labels")}
    before, after = train_steps(model, batch)
    assert after < before - 0.5, (before, after)
