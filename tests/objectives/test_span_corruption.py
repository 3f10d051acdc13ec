"""T5 span corruption: exact lengths, noise density, span lengths, sentinel layout, and learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hf_variants.objectives import (
    SpanCorruptionCollator,
    compute_input_and_target_lengths,
    corrupted_lengths,
    pack_sequences,
    random_spans_noise_mask,
    t5_sentinel_ids,
    tokenizer_sentinel_ids,
)

from .conftest import train_steps
from .corpus import DOCUMENTS
from .seq2seq import tiny_seq2seq


def _blocks(tokenizer, raw_length):
    ids = tokenizer(DOCUMENTS * 3)["input_ids"]
    return pack_sequences(ids, raw_length, with_labels=False)


@pytest.mark.parametrize("inputs_length", [16, 64, 128, 512])
def test_lengths_are_exact(inputs_length):
    raw, target = compute_input_and_target_lengths(inputs_length)
    assert corrupted_lengths(raw)[1] == target
    # the longest raw block that fits: one more raw token would overflow the input length
    assert corrupted_lengths(raw)[0] <= inputs_length < corrupted_lengths(raw + 1)[0]
    if inputs_length == 512:
        assert (raw, target) == (568, 114)  # T5's published numbers for 512 inputs


def test_batches_need_no_padding_or_truncation(t5_tokenizer):
    raw, target = compute_input_and_target_lengths(64)
    collator = SpanCorruptionCollator(t5_tokenizer, seed=0)
    batch = collator(_blocks(t5_tokenizer, raw))
    assert batch["input_ids"].shape[1] == corrupted_lengths(raw)[0] <= 64
    assert batch["labels"].shape[1] == target
    assert batch["attention_mask"].all() and (batch["labels"] != -100).all()


def test_sentinels_descend_from_the_vocabulary_end(t5_tokenizer):
    sentinels = tokenizer_sentinel_ids(t5_tokenizer)
    assert len(sentinels) == 100
    assert sentinels == t5_sentinel_ids(len(t5_tokenizer), 100)


def test_layout_reconstructs_the_original(t5_tokenizer):
    raw, _ = compute_input_and_target_lengths(128)
    blocks = _blocks(t5_tokenizer, raw)
    batch = SpanCorruptionCollator(t5_tokenizer, seed=1)(blocks)
    sentinels = tokenizer_sentinel_ids(t5_tokenizer)
    eos = t5_tokenizer.eos_token_id
    noise_tokens = spans = 0
    for block, inputs, labels in zip(blocks, batch["input_ids"].tolist(), batch["labels"].tolist()):
        assert inputs[-1] == eos and labels[-1] == eos
        in_sent = [t for t in inputs if t in sentinels]
        out_sent = [t for t in labels if t in sentinels]
        assert in_sent == out_sent == sentinels[: len(in_sent)]  # <extra_id_0>, <extra_id_1>, ... in order
        assert labels[0] == sentinels[0]
        # fill each input sentinel with the target tokens that follow the same sentinel
        fills, current = {}, None
        for t in labels[:-1]:
            if t in sentinels:
                current = t
                fills[t] = []
            else:
                fills[current].append(t)
        rebuilt = [x for t in inputs[:-1] for x in (fills[t] if t in sentinels else [t])]
        assert rebuilt == block["input_ids"]
        noise_tokens += len(labels) - 1 - len(out_sent)
        spans += len(out_sent)
    assert abs(noise_tokens / (len(blocks) * raw) - 0.15) < 0.01
    assert abs(noise_tokens / spans - 3.0) < 0.3


def test_noise_mask_statistics():
    rng = np.random.default_rng(0)
    runs = []
    density = []
    for _ in range(300):
        mask = random_spans_noise_mask(200, 0.15, 3.0, rng)
        density.append(mask.mean())
        starts = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])) == 1)
        ends = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])) == -1)
        runs.extend(ends - starts)
        assert not mask[0]  # the first run is clean, like T5's
    assert abs(np.mean(density) - 0.15) < 1e-9
    assert abs(np.mean(runs) - 3.0) < 0.05
    assert len(set(runs)) > 3  # lengths vary


def test_errors(gpt2_tokenizer):
    with pytest.raises(ValueError, match="sentinel"):
        SpanCorruptionCollator(gpt2_tokenizer)
    with pytest.raises(ValueError, match="noise_density"):
        compute_input_and_target_lengths(64, noise_density=1.5)
    collator = SpanCorruptionCollator(sentinel_ids=[5], eos_token_id=1, pad_token_id=0)
    with pytest.raises(ValueError, match="sentinels"):
        collator([list(range(10, 100))])


def test_span_corruption_lowers_t5_loss(t5_tokenizer):
    model = tiny_seq2seq("t5", t5_tokenizer, head_dim=8, decoder_start_token_id=t5_tokenizer.pad_token_id)
    raw, _ = compute_input_and_target_lengths(64)
    batch = SpanCorruptionCollator(t5_tokenizer, seed=2)(_blocks(t5_tokenizer, raw)[:8])
    before, after = train_steps(model, batch)
    assert after < before - 0.5, (before, after)
    assert torch.isfinite(torch.tensor(after))
