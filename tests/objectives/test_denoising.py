"""BART denoising: each noise function's statistics, combinations, and learning."""

from __future__ import annotations

import numpy as np
import pytest

from hf_variants.objectives import DenoisingCollator, sentence_end_ids
from hf_variants.objectives.denoising import poisson_span_lengths

from .conftest import train_steps
from .corpus import DOCUMENTS
from .seq2seq import tiny_seq2seq


def _docs(tokenizer):
    return tokenizer(DOCUMENTS)["input_ids"]


def _body(ids, tokenizer):
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id  # BOS/EOS stay put
    return ids[1:-1]


def _sentences(body, ends):
    out, cur = [], []
    for t in body:
        cur.append(t)
        if t in ends:
            out.append(tuple(cur))
            cur = []
    return out + ([tuple(cur)] if cur else [])


def test_sentence_permutation_permutes(bart_tokenizer):
    ends = set(sentence_end_ids(bart_tokenizer))
    assert ends
    collator = DenoisingCollator(bart_tokenizer, infill_ratio=0.0, permute_sentences=True, seed=0)
    changed = 0
    for ids in _docs(bart_tokenizer):
        out = _body(collator.corrupt(ids), bart_tokenizer)
        original = _body(ids, bart_tokenizer)
        assert sorted(_sentences(out, ends)) == sorted(_sentences(original, ends))  # whole sentences, reordered
        changed += out != original
    assert changed >= len(DOCUMENTS) - 1


def test_token_masking_rate(bart_tokenizer):
    collator = DenoisingCollator(bart_tokenizer, mask_ratio=0.15, infill_ratio=0.0, permute_sentences=False, seed=0)
    mask_id = bart_tokenizer.mask_token_id
    for ids in _docs(bart_tokenizer):
        out = collator.corrupt(ids)
        assert len(out) == len(ids)
        assert sum(t == mask_id for t in out) == round(0.15 * (len(ids) - 2))
        assert all(o == i for o, i in zip(out, ids) if o != mask_id)


def test_deletion_shortens(bart_tokenizer):
    collator = DenoisingCollator(bart_tokenizer, delete_ratio=0.2, infill_ratio=0.0, permute_sentences=False, seed=0)
    for ids in _docs(bart_tokenizer):
        out = collator.corrupt(ids)
        assert len(ids) - len(out) == round(0.2 * (len(ids) - 2))
        remaining = iter(ids)
        assert all(t in remaining for t in out)  # an ordered subsequence of the original


def test_poisson_span_lengths():
    lengths = poisson_span_lengths(100_000, 3.0, np.random.default_rng(0))
    assert lengths.sum() == 100_000
    assert abs(lengths.mean() - 3.0) < 0.05
    assert (lengths == 0).any()  # zero-length spans exist (they become insertions)


def test_text_infilling_one_mask_per_span(bart_tokenizer):
    mask_id = bart_tokenizer.mask_token_id
    removed = masks = total = 0
    collator = DenoisingCollator(bart_tokenizer, infill_ratio=0.1, permute_sentences=False, seed=0)
    for _ in range(20):
        for ids in _docs(bart_tokenizer):
            out = collator.corrupt(ids)
            m = sum(t == mask_id for t in out)
            masks += m
            removed += len(ids) - (len(out) - m)
            total += len(ids) - 2
    assert 0.08 < removed / total <= 0.1 + 1e-9  # overlapping spans merge, so a bit under the ratio
    assert abs(removed / masks - 3.0) < 0.4  # mean tokens hidden behind each mask ~ λ


def test_rotation_rotates(bart_tokenizer):
    collator = DenoisingCollator(bart_tokenizer, infill_ratio=0.0, permute_sentences=False, rotate_document=True,
                                 seed=0)
    for ids in _docs(bart_tokenizer):
        body, out = _body(ids, bart_tokenizer), _body(collator.corrupt(ids), bart_tokenizer)
        assert out != body
        assert any(out == body[j:] + body[:j] for j in range(1, len(body)))


def test_all_noises_combined_batch(bart_tokenizer):
    collator = DenoisingCollator(bart_tokenizer, mask_ratio=0.1, delete_ratio=0.1, infill_ratio=0.2,
                                 permute_sentences=True, rotate_document=True, seed=0)
    docs = _docs(bart_tokenizer)
    batch = collator([{"input_ids": d} for d in docs])
    for row, labels, mask, ids in zip(batch["input_ids"], batch["labels"], batch["attention_mask"], docs):
        assert labels[: len(ids)].tolist() == ids and (labels[len(ids):] == -100).all()
        real = row[mask.bool()].tolist()
        assert real != ids and len(real) < len(ids)
        assert (row[~mask.bool()] == bart_tokenizer.pad_token_id).all()


def test_errors(bart_tokenizer, gpt2_tokenizer):
    with pytest.raises(ValueError, match="no noise"):
        DenoisingCollator(bart_tokenizer, infill_ratio=0.0, permute_sentences=False)
    with pytest.raises(ValueError, match="mask_ratio"):
        DenoisingCollator(bart_tokenizer, mask_ratio=1.5)
    with pytest.raises(ValueError, match="mask token"):
        DenoisingCollator(gpt2_tokenizer)


def test_denoising_lowers_bart_loss(bart_tokenizer):
    model = tiny_seq2seq("bart", bart_tokenizer, max_position_embeddings=258,
                         decoder_start_token_id=bart_tokenizer.eos_token_id)
    collator = DenoisingCollator(bart_tokenizer, seed=1)
    batch = collator([{"input_ids": ids[:96]} for ids in _docs(bart_tokenizer)])
    before, after = train_steps(model, batch)
    assert after < before - 0.5, (before, after)
