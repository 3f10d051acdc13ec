"""Per-example noise seeds (issue 14): each example's masking/corruption is a function of (run seed, split, epoch,
example index) alone — not of the global RNG, the batch it lands in, or how far ahead the dataloader collated."""

from __future__ import annotations

import pytest
import torch

from hf_variants.objectives import DenoisingCollator, SpanCorruptionCollator, mlm_collator
from hf_variants.objectives.noise import NOISE_SEED, NoiseSeededDataset

from .corpus import DOCUMENTS


def _collators(bert_tokenizer, t5_tokenizer, bart_tokenizer):
    return {"mlm": (mlm_collator(bert_tokenizer), bert_tokenizer),
            "span": (SpanCorruptionCollator(tokenizer=t5_tokenizer), t5_tokenizer),
            "denoising": (DenoisingCollator(tokenizer=bart_tokenizer), bart_tokenizer)}


def _row(batch, i) -> tuple[list[int], list[int]]:
    """Row i's (unpadded input ids, labels with the -100 padding/unmasked positions left out)."""
    ids, labels = batch["input_ids"][i][batch["attention_mask"][i] == 1], batch["labels"][i]
    return ids.tolist(), labels[labels != -100].tolist()


def test_seeds_follow_seed_split_epoch_and_index():
    data = [{"input_ids": [1, 2, 3]}] * 4
    dataset = NoiseSeededDataset(data, seed=7)
    first = [dataset[i][NOISE_SEED] for i in range(4)]
    assert len(set(first)) == 4
    assert [e[NOISE_SEED] for e in dataset.__getitems__([0, 1, 2, 3])] == first
    assert first == [NoiseSeededDataset(data, seed=7)[i][NOISE_SEED] for i in range(4)]
    dataset.set_epoch(1)
    assert not set(first) & {dataset[i][NOISE_SEED] for i in range(4)}  # fresh noise every epoch
    assert not set(first) & {NoiseSeededDataset(data, seed=8)[i][NOISE_SEED] for i in range(4)}
    assert not set(first) & {NoiseSeededDataset(data, seed=7, split=1)[i][NOISE_SEED] for i in range(4)}
    assert dataset[0]["input_ids"] == [1, 2, 3]


@pytest.mark.parametrize("kind", ["mlm", "span", "denoising"])
def test_noise_depends_on_the_example_seed_only(kind, bert_tokenizer, t5_tokenizer, bart_tokenizer):
    collator, tokenizer = _collators(bert_tokenizer, t5_tokenizer, bart_tokenizer)[kind]
    docs = [{"input_ids": ids} for ids in tokenizer(DOCUMENTS[:3], truncation=True, max_length=40)["input_ids"]]
    dataset = NoiseSeededDataset(docs, seed=3)
    torch.manual_seed(0)
    together = collator([dataset[0], dataset[1], dataset[2]])
    torch.manual_seed(1)  # another global RNG state, another batch: the same noise for example 2
    alone = collator([dataset[2]])
    assert _row(together, 2) == _row(alone, 0)
    dataset.set_epoch(1)
    assert _row(collator([dataset[2]]), 0) != _row(alone, 0)  # another epoch, other noise
    assert NOISE_SEED not in together
