"""Masked LM: rate, 80/10/10 split, special tokens, per-batch redraw, whole words, and learning."""

from __future__ import annotations

import pytest
import torch

from hf_variants.objectives import MaskedLMCollator, mlm_collator
from hf_variants.variants.bert import HfvBertConfig, HfvBertForMaskedLM

from .conftest import TINY, train_steps
from .corpus import DOCUMENTS


def _examples(tokenizer, max_length=128):
    enc = tokenizer(DOCUMENTS, truncation=True, max_length=max_length, return_special_tokens_mask=True)
    return [{k: enc[k][i] for k in ("input_ids", "attention_mask", "special_tokens_mask")}
            for i in range(len(DOCUMENTS))]


def _statistics(collator, tokenizer, examples, rounds=25):
    padded = tokenizer.pad([{k: v for k, v in e.items() if k != "special_tokens_mask"} for e in examples],
                           return_tensors="pt")
    original = padded["input_ids"]
    special = torch.tensor([tokenizer.get_special_tokens_mask(r, already_has_special_tokens=True)
                            for r in original.tolist()], dtype=torch.bool) | (padded["attention_mask"] == 0)
    counts = dict(candidates=0, masked=0, mask_token=0, random=0, kept=0)
    for _ in range(rounds):
        batch = collator([dict(e) for e in examples])
        masked = batch["labels"] != -100
        assert not (masked & special).any(), "a special or padding token was masked"
        assert torch.equal(batch["input_ids"][special], original[special])
        assert torch.equal(batch["labels"][masked], original[masked])
        assert torch.equal(batch["input_ids"][~masked], original[~masked])
        counts["candidates"] += int((~special).sum())
        counts["masked"] += int(masked.sum())
        counts["mask_token"] += int((batch["input_ids"][masked] == tokenizer.mask_token_id).sum())
        counts["kept"] += int((batch["input_ids"][masked] == original[masked]).sum())
    counts["random"] = counts["masked"] - counts["mask_token"] - counts["kept"]
    return counts


@pytest.mark.parametrize("whole_word", [False, True])
def test_mask_rate_and_80_10_10(bert_tokenizer, whole_word):
    collator = mlm_collator(bert_tokenizer, whole_word_mask=whole_word, seed=0)
    c = _statistics(collator, bert_tokenizer, _examples(bert_tokenizer))
    rate = c["masked"] / c["candidates"]
    assert abs(rate - 0.15) < (0.012 if not whole_word else 0.02), rate
    assert abs(c["mask_token"] / c["masked"] - 0.8) < 0.02
    # "kept" also catches the rare random draw of the original id (1/600 here)
    assert abs(c["kept"] / c["masked"] - 0.1) < 0.02
    assert abs(c["random"] / c["masked"] - 0.1) < 0.02


def test_masking_is_redrawn_per_batch(bert_tokenizer):
    collator = mlm_collator(bert_tokenizer, seed=1)
    examples = _examples(bert_tokenizer)
    first = collator([dict(e) for e in examples])["labels"]
    second = collator([dict(e) for e in examples])["labels"]
    assert not torch.equal(first != -100, second != -100)


def test_whole_words_are_masked_together(bert_tokenizer):
    collator = MaskedLMCollator(bert_tokenizer, whole_word_mask=True, seed=2)
    examples = _examples(bert_tokenizer)
    continuation = torch.tensor([tok.startswith("##") for tok, _ in sorted(bert_tokenizer.get_vocab().items(),
                                                                          key=lambda kv: kv[1])])
    split_words = 0
    for _ in range(10):
        batch = collator([dict(e) for e in examples])
        masked = batch["labels"] != -100
        original = torch.where(masked, batch["labels"], batch["input_ids"])
        cont = continuation[original]
        # a continuation piece is masked exactly when the piece before it is (so whole words go together)
        assert torch.equal(masked[:, 1:][cont[:, 1:]], masked[:, :-1][cont[:, 1:]])
        split_words += int(cont.sum())
    assert split_words > 0, "the test text should contain multi-piece words"


def test_rejects_tokenizer_without_mask(gpt2_tokenizer):
    with pytest.raises(ValueError, match="mask token"):
        mlm_collator(gpt2_tokenizer)


def test_mlm_training_lowers_loss(bert_tokenizer):
    torch.manual_seed(0)
    model = HfvBertForMaskedLM(HfvBertConfig(vocab_size=len(bert_tokenizer), **TINY))
    batch = mlm_collator(bert_tokenizer, seed=3)(_examples(bert_tokenizer, 64))
    before, after = train_steps(model, batch)
    assert after < before - 0.5, (before, after)
