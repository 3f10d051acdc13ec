"""BART denoising (Lewis et al. 2020): corrupt a document, train the seq2seq model to reconstruct the original.

Noise functions, each selectable and combinable, applied in fairseq's order (permute, mask, delete, infill,
rotate) to the body between BOS and EOS, which stay in place:
- sentence permutation: sentences (split after . ! ?) are shuffled;
- token masking: `mask_ratio` of the tokens become <mask>;
- token deletion: `delete_ratio` of the tokens are removed (the model must find where);
- text infilling: spans with Poisson(λ = 3) lengths drawn to cover `infill_ratio` of the tokens are each replaced
  by ONE <mask> (a 0-length span inserts a <mask>); overlapping spans merge, so ~27% is hidden at a 30% ratio;
- document rotation: the document is rotated to start at a random token.
Defaults are BART's best setting: text infilling (30%) + sentence permutation.
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

_SENTENCE_END_TEXTS = (".", "!", "?")
_MARKERS = ("Ġ", "▁", "##")


def sentence_end_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of vocabulary tokens that are a sentence-final '.', '!' or '?' (with or without a word marker)."""
    ids = []
    for token, idx in tokenizer.get_vocab().items():
        for marker in _MARKERS:
            token = token.removeprefix(marker)
        if token in _SENTENCE_END_TEXTS:
            ids.append(idx)
    return sorted(ids)


def permute_sentences(body: list[int], end_ids: set[int], rng: np.random.Generator) -> list[int]:
    """Shuffle the sentences (each ends after a sentence-end token; a trailing fragment is a sentence too)."""
    sentences, current = [], []
    for token in body:
        current.append(token)
        if token in end_ids:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return [t for i in rng.permutation(len(sentences)) for t in sentences[i]]


def mask_tokens(body: list[int], ratio: float, mask_id: int, rng: np.random.Generator) -> list[int]:
    """Replace round(ratio * n) random tokens by `mask_id`."""
    out = list(body)
    for i in rng.choice(len(body), size=int(round(ratio * len(body))), replace=False):
        out[i] = mask_id
    return out


def delete_tokens(body: list[int], ratio: float, rng: np.random.Generator) -> list[int]:
    """Remove round(ratio * n) random tokens."""
    drop = set(rng.choice(len(body), size=int(round(ratio * len(body))), replace=False).tolist())
    return [t for i, t in enumerate(body) if i not in drop]


def poisson_span_lengths(num_tokens: int, poisson_lambda: float, rng: np.random.Generator) -> np.ndarray:
    """Span lengths ~ Poisson(λ) drawn until they cover `num_tokens`; the last is cut so they sum exactly."""
    lengths: list[int] = []
    covered = 0
    while covered < num_tokens:
        length = int(rng.poisson(poisson_lambda))
        lengths.append(min(length, num_tokens - covered))
        covered += lengths[-1]
    return np.array(lengths, dtype=int)


def infill_spans(body: list[int], ratio: float, poisson_lambda: float, mask_id: int,
                 rng: np.random.Generator) -> list[int]:
    """Text infilling: spans covering ~`ratio` of the tokens, each replaced by one `mask_id` (overlapping spans
    merge into one); zero-length spans insert a `mask_id`."""
    n = len(body)
    lengths = poisson_span_lengths(int(round(ratio * n)), poisson_lambda, rng)
    if n == 0 or len(lengths) == 0:
        return list(body)
    starts = rng.choice(n, size=min(len(lengths), n), replace=False)
    covered = np.zeros(n + 1, dtype=bool)
    insert = np.zeros(n + 1, dtype=bool)
    for start, length in zip(starts, lengths):
        if length == 0:
            insert[start] = True
        covered[start:start + length] = True
    out = []
    for i, token in enumerate(body):
        if insert[i]:
            out.append(mask_id)
        if covered[i]:
            if i == 0 or not covered[i - 1]:
                out.append(mask_id)
        else:
            out.append(token)
    return out


def rotate(body: list[int], rng: np.random.Generator) -> list[int]:
    """Rotate so the document starts at a random token other than its current first one."""
    if len(body) < 2:
        return list(body)
    k = int(rng.integers(1, len(body)))
    return body[k:] + body[:k]


@dataclass
class DenoisingCollator:
    """Batches of `input_ids` (documents tokenized with BOS/EOS) -> corrupted `input_ids`, `attention_mask`, and
    `labels` = the original documents (padding -100). Noise is drawn fresh per batch: from each example's
    `noise_seed` when it carries one (see `objectives.noise`), else from `seed` or the global RNG."""

    reads_noise_seeds = True

    tokenizer: PreTrainedTokenizerBase
    mask_ratio: float = 0.0
    delete_ratio: float = 0.0
    infill_ratio: float = 0.3
    poisson_lambda: float = 3.0
    permute_sentences: bool = True
    rotate_document: bool = False
    sentence_end_ids: Sequence[int] | None = None
    seed: int | None = None
    _rng: np.random.Generator | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("mask_ratio", "delete_ratio", "infill_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}={value} must be in [0, 1]")
        if self.poisson_lambda <= 0:
            raise ValueError(f"poisson_lambda={self.poisson_lambda} must be > 0")
        if not (self.mask_ratio or self.delete_ratio or self.infill_ratio or self.permute_sentences
                or self.rotate_document):
            raise ValueError("no noise selected: set mask_ratio, delete_ratio, infill_ratio, permute_sentences "
                             "or rotate_document")
        if (self.mask_ratio or self.infill_ratio) and self.tokenizer.mask_token_id is None:
            raise ValueError(f"token masking and text infilling need a mask token; {type(self.tokenizer).__name__} "
                             "has none (set mask_ratio=0 and infill_ratio=0, or add one)")
        if self.tokenizer.pad_token_id is None:
            raise ValueError(f"{type(self.tokenizer).__name__} has no pad token to pad batches with")
        if self.sentence_end_ids is None:
            self.sentence_end_ids = sentence_end_ids(self.tokenizer)
        self._ends = {int(i) for i in self.sentence_end_ids}
        self._rng = np.random.default_rng(self.seed) if self.seed is not None else None

    def corrupt(self, ids: Sequence[int], rng: np.random.Generator | None = None) -> list[int]:
        """One document's noised version (noise from `rng`, else the collator's own draw); a leading BOS and
        trailing EOS stay where they are."""
        ids = [int(i) for i in ids]
        head = ids[:1] if ids and ids[0] == self.tokenizer.bos_token_id else []
        tail = ids[-1:] if len(ids) > len(head) and ids[-1] == self.tokenizer.eos_token_id else []
        body = ids[len(head): len(ids) - len(tail)]
        rng, mask_id = rng or batch_rng(self._rng), self.tokenizer.mask_token_id
        if self.permute_sentences:
            body = permute_sentences(body, self._ends, rng)
        if self.mask_ratio:
            body = mask_tokens(body, self.mask_ratio, mask_id, rng)
        if self.delete_ratio:
            body = delete_tokens(body, self.delete_ratio, rng)
        if self.infill_ratio:
            body = infill_spans(body, self.infill_ratio, self.poisson_lambda, mask_id, rng)
        if self.rotate_document:
            body = rotate(body, rng)
        return head + body + tail

    def __call__(self, examples: list[dict[str, Any] | Sequence[int]]) -> dict[str, torch.Tensor]:
        examples, seeds = split_noise_seeds(examples)
        originals = []
        for example in examples:
            ids = example["input_ids"] if isinstance(example, dict) else example
            originals.append(ids.tolist() if hasattr(ids, "tolist") else [int(i) for i in ids])
        rngs = [numpy_generator(s) for s in seeds] if seeds is not None else [None] * len(originals)
        corrupted = [self.corrupt(ids, rng) for ids, rng in zip(originals, rngs)]
        input_ids, attention_mask = pad_rows(corrupted, self.tokenizer.pad_token_id)
        labels, _ = pad_rows(originals, -100)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

