"""T5 span corruption (Raffel et al. 2020): 15% of tokens in spans of mean length 3; each noise span becomes one
sentinel in the input, and the target lists the sentinels each followed by the tokens it hid.

    raw:     a b c d e f g h i
    input:   a b <X0> e f <X1> i </s>          (noise spans: c d, g h)
    target:  <X0> c d <X1> g h </s>

`compute_input_and_target_lengths` gives the raw block length whose corrupted input has exactly the wanted length,
so packed blocks (`pack_sequences`) produce batches that need neither truncation nor padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from ._batching import batch_rng, pad_rows
from .noise import numpy_generator, split_noise_seeds


def noise_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(noise tokens, noise spans) for a raw sequence of `length` tokens (at least one of each, one clean token)."""
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    return num_noise, min(num_spans, num_noise, length - num_noise)


def corrupted_lengths(length: int, noise_density: float = 0.15, mean_noise_span_length: float = 3.0) -> tuple[int, int]:
    """(input length, target length) after corruption, each with its final EOS."""
    num_noise, num_spans = noise_counts(length, noise_density, mean_noise_span_length)
    return length - num_noise + num_spans + 1, num_noise + num_spans + 1


def compute_input_and_target_lengths(inputs_length: int, noise_density: float = 0.15,
                                     mean_noise_span_length: float = 3.0) -> tuple[int, int]:
    """The longest raw length whose corrupted input fits `inputs_length` exactly, and its target length.

    Returns (raw tokens per example, target length)."""
    if inputs_length < 3:
        raise ValueError(f"inputs_length={inputs_length} is too short for span corruption (need >= 3)")
    if not 0.0 < noise_density < 1.0:
        raise ValueError(f"noise_density={noise_density} must be in (0, 1)")
    if mean_noise_span_length < 1:
        raise ValueError(f"mean_noise_span_length={mean_noise_span_length} must be >= 1")
    raw = 2
    while corrupted_lengths(raw + 1, noise_density, mean_noise_span_length)[0] <= inputs_length:
        raw += 1
    return raw, corrupted_lengths(raw, noise_density, mean_noise_span_length)[1]


def _segments(total: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Split `total` items into `count` non-empty runs at uniformly random cut points."""
    cuts = np.sort(rng.choice(np.arange(1, total), size=count - 1, replace=False)) if count > 1 else np.array([], int)
    return np.diff(np.concatenate([[0], cuts, [total]]))


def random_spans_noise_mask(length: int, noise_density: float, mean_noise_span_length: float,
                            rng: np.random.Generator) -> np.ndarray:
    """Bool mask of noise tokens: alternating clean/noise runs starting with clean, with the exact counts."""
    num_noise, num_spans = noise_counts(length, noise_density, mean_noise_span_length)
    noise_runs = _segments(num_noise, num_spans, rng)
    clean_runs = _segments(length - num_noise, num_spans, rng)
    runs = np.stack([clean_runs, noise_runs], axis=1).reshape(-1)
    flags = np.tile([False, True], num_spans)
    return np.repeat(flags, runs)


def t5_sentinel_ids(vocab_size: int, count: int = 100) -> list[int]:
    """T5's convention: sentinel i is id `vocab_size - 1 - i` (the last ids of the vocabulary, descending)."""
    return [vocab_size - 1 - i for i in range(count)]


def tokenizer_sentinel_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of `<extra_id_0>`, `<extra_id_1>`, ... as the tokenizer defines them."""
    vocab = tokenizer.get_vocab()
    ids = []
    while f"<extra_id_{len(ids)}>" in vocab:
        ids.append(vocab[f"<extra_id_{len(ids)}>"])
    if not ids:
        raise ValueError(f"{type(tokenizer).__name__} has no <extra_id_N> sentinel tokens: pass sentinel_ids "
                         "(e.g. t5_sentinel_ids(vocab_size))")
    return ids


def corrupt_spans(ids: Sequence[int], noise_mask: np.ndarray, sentinel_ids: Sequence[int],
                  eos_token_id: int) -> tuple[list[int], list[int]]:
    """(input, target): each noise span -> one sentinel in the input; each clean span -> one in the target."""
    inputs: list[int] = []
    targets: list[int] = []
    span = -1
    previous = None
    for token, noise in zip(ids, noise_mask.tolist()):
        if noise and previous is not True:
            span += 1
            if span >= len(sentinel_ids):
                raise ValueError(f"{span + 1} noise spans need more sentinels than the {len(sentinel_ids)} given")
            inputs.append(sentinel_ids[span])
            targets.append(sentinel_ids[span])
        (targets if noise else inputs).append(int(token))
        previous = noise
    return inputs + [eos_token_id], targets + [eos_token_id]


@dataclass
class SpanCorruptionCollator:
    """Batches of raw token blocks (`input_ids`, ideally all of the length from `compute_input_and_target_lengths`)
    -> `input_ids`, `attention_mask`, `labels`. Noise is drawn fresh per batch: from each example's `noise_seed`
    when it carries one (see `objectives.noise`; `hfv pretrain` adds them), else from `seed` or (seed=None) from
    torch's global RNG, which the Trainer seeds from `--seed`.

    Sentinels: `sentinel_ids`, or else the tokenizer's `<extra_id_N>`. Unequal raw lengths are padded
    (pad id / -100), never truncated.
    """

    tokenizer: PreTrainedTokenizerBase | None = None
    noise_density: float = 0.15
    mean_noise_span_length: float = 3.0
    sentinel_ids: Sequence[int] | None = None
    eos_token_id: int | None = None
    pad_token_id: int | None = None
    seed: int | None = None
    _rng: np.random.Generator | None = field(init=False, repr=False)
    reads_noise_seeds = True

    def __post_init__(self) -> None:
        compute_input_and_target_lengths(8, self.noise_density, self.mean_noise_span_length)  # validates both
        if self.sentinel_ids is None:
            if self.tokenizer is None:
                raise ValueError("give a tokenizer with <extra_id_N> sentinels or explicit sentinel_ids")
            self.sentinel_ids = tokenizer_sentinel_ids(self.tokenizer)
        for name in ("eos_token_id", "pad_token_id"):
            if getattr(self, name) is None:
                value = getattr(self.tokenizer, name, None) if self.tokenizer is not None else None
                if value is None:
                    raise ValueError(f"{name} is not set and the tokenizer does not define it")
                setattr(self, name, value)
        self.sentinel_ids = [int(i) for i in self.sentinel_ids]
        self._rng = np.random.default_rng(self.seed) if self.seed is not None else None

    def __call__(self, examples: list[dict[str, Any] | Sequence[int]]) -> dict[str, torch.Tensor]:
        examples, seeds = split_noise_seeds(examples)
        pairs, shared = [], batch_rng(self._rng) if seeds is None else None
        for i, example in enumerate(examples):
            ids = example["input_ids"] if isinstance(example, dict) else example
            ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
            if len(ids) < 2:
                raise ValueError(f"span corruption needs at least 2 tokens per example, got {len(ids)}")
            rng = shared if seeds is None else numpy_generator(seeds[i])
            mask = random_spans_noise_mask(len(ids), self.noise_density, self.mean_noise_span_length, rng)
            pairs.append(corrupt_spans(ids, mask, self.sentinel_ids, self.eos_token_id))
        inputs, targets = zip(*pairs)
        input_ids, attention_mask = pad_rows(inputs, self.pad_token_id)
        labels, _ = pad_rows(targets, -100)
        # No decoder inputs: seq2seq models shift `labels` right behind their decoder start token.
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

