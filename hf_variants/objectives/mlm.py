"""Masked language modelling (BERT, RoBERTa, ALBERT, DistilBERT): 15% of tokens, 80/10/10, re-drawn per batch.

`MaskedLMCollator` is transformers' `DataCollatorForLanguageModeling` (padding, special-token protection, 80/10/10,
seeding) with one change: whole-word masking keeps the 80/10/10 replacement (transformers forces 100% [MASK]) and
finds words from the token strings, so it needs no `offset_mapping` column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerBase

from .noise import split_noise_seeds, torch_generator


def continuation_table(tokenizer: PreTrainedTokenizerBase) -> torch.Tensor:
    """Bool per token id: True when that token continues the previous word.

    WordPiece marks continuations ("##ing"); byte-level BPE ("Ġ") and SentencePiece ("▁") mark word starts instead.
    """
    vocab = tokenizer.get_vocab()
    table = torch.zeros(max(len(tokenizer), max(vocab.values()) + 1), dtype=torch.bool)
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    prefix = getattr(model, "continuing_subword_prefix", None)
    if type(model).__name__ == "WordPiece" and prefix:
        for token, idx in vocab.items():
            table[idx] = token.startswith(prefix)
        return table
    for marker in ("Ġ", "▁"):
        if any(token.startswith(marker) for token in vocab):
            specials = set(tokenizer.all_special_ids)
            for token, idx in vocab.items():
                table[idx] = not token.startswith(marker) and idx not in specials
            return table
    raise ValueError(
        f"whole_word_mask: cannot tell word boundaries for {type(tokenizer).__name__}: its vocabulary has neither "
        "'##' continuations (WordPiece) nor 'Ġ'/'▁' word-start markers"
    )


@dataclass
class MaskedLMCollator(DataCollatorForLanguageModeling):
    """Pads a batch and masks `mlm_probability` of its non-special tokens (fresh draw every batch): of those,
    `mask_replace_prob` become [MASK], `random_replace_prob` a random token, the rest stay. `labels` hold the
    original ids at masked positions and -100 elsewhere.

    `whole_word_mask=True` picks whole words (each with probability `mlm_probability`, so the expected token rate
    is unchanged) and then applies the same per-token 80/10/10 as BERT's whole-word-masking release.
    Extra example keys (`next_sentence_label`, `sentence_order_label`, `token_type_ids`) are padded/stacked and passed on.

    Examples carrying a `noise_seed` (see `objectives.noise`; `hfv pretrain` adds them) are masked from a generator
    seeded with it, row by row; otherwise the batch draws from `seed`'s generator or the global RNG.
    """

    reads_noise_seeds = True

    def __post_init__(self) -> None:
        whole_word = self.whole_word_mask
        self.whole_word_mask = False  # the parent would force mask_replace_prob=1 and require offsets
        super().__post_init__()
        self.whole_word_mask = whole_word
        if self.return_tensors != "pt":
            raise ValueError(f"return_tensors={self.return_tensors!r} is not supported; allowed: 'pt'")
        self._continues = continuation_table(self.tokenizer) if whole_word else None
        self._row_seeds: list[int] | None = None

    def torch_call(self, examples: list[Any]) -> dict[str, Any]:
        examples, self._row_seeds = split_noise_seeds(examples)
        try:
            return super().torch_call(examples)
        finally:
            self._row_seeds = None

    def torch_mask_tokens(self, inputs: torch.Tensor, special_tokens_mask: Any | None = None,
                          offset_mapping: Any | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if self._row_seeds is None:
            return self._mask_batch(inputs, special_tokens_mask)
        if special_tokens_mask is None:
            special_tokens_mask = [self.tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                                   for row in inputs.tolist()]
        special = torch.as_tensor(special_tokens_mask, dtype=torch.bool)
        shared, rows = self.generator, []
        try:
            for i, noise_seed in enumerate(self._row_seeds):
                self.generator = torch_generator(noise_seed)
                rows.append(self._mask_batch(inputs[i:i + 1].clone(), special[i:i + 1]))
        finally:
            self.generator = shared
        masked, labels = zip(*rows)
        return torch.cat(masked), torch.cat(labels)

    def _mask_batch(self, inputs: torch.Tensor, special_tokens_mask: Any | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Select and replace tokens of `inputs` (all rows) with `self.generator` (None: the global RNG)."""
        if not self.whole_word_mask:
            return super().torch_mask_tokens(inputs, special_tokens_mask=special_tokens_mask)
        if special_tokens_mask is None:
            special_tokens_mask = [self.tokenizer.get_special_tokens_mask(row, already_has_special_tokens=True)
                                   for row in inputs.tolist()]
        special = torch.as_tensor(special_tokens_mask, dtype=torch.bool)
        masked = self._whole_word_selection(inputs, special)
        return self._replace(inputs, masked)

    def _whole_word_selection(self, inputs: torch.Tensor, special: torch.Tensor) -> torch.Tensor:
        """Draw once per word start; every continuation token follows its word's draw."""
        continues = self._continues[inputs.clamp(0, len(self._continues) - 1)] & ~special
        continues[:, 0] = False
        word_id = torch.cumsum(~continues, dim=1)  # ids of words within each row (specials are their own word)
        draw = torch.bernoulli(torch.full(inputs.shape, self.mlm_probability), generator=self.generator).bool()
        start_draw = draw & ~continues & ~special
        # Broadcast the start token's draw to the rest of the word: gather by word index.
        per_word = torch.zeros(inputs.shape[0], inputs.shape[1] + 1, dtype=torch.long)
        per_word.scatter_reduce_(1, word_id, start_draw.long(), reduce="amax")  # only the start token can be 1
        return per_word.gather(1, word_id).bool() & ~special

    def _replace(self, inputs: torch.Tensor, masked: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels, then the 80/10/10 replacement of the selected positions."""
        labels = inputs.clone()
        labels[~masked] = -100
        to_mask = torch.bernoulli(torch.full(inputs.shape, self.mask_replace_prob), generator=self.generator).bool()
        to_mask &= masked
        inputs[to_mask] = self.tokenizer.mask_token_id
        rest = 1.0 - self.mask_replace_prob
        if self.random_replace_prob > 0 and rest > 0:
            p_random = min(1.0, self.random_replace_prob / rest)
            to_random = torch.bernoulli(torch.full(inputs.shape, p_random), generator=self.generator).bool()
            to_random &= masked & ~to_mask
            random_ids = torch.randint(len(self.tokenizer), inputs.shape, generator=self.generator)
            inputs[to_random] = random_ids[to_random]
        return inputs, labels


def mlm_collator(tokenizer: PreTrainedTokenizerBase, mlm_probability: float = 0.15, *,
                 whole_word_mask: bool = False, mask_replace_prob: float = 0.8, random_replace_prob: float = 0.1,
                 pad_to_multiple_of: int | None = None, seed: int | None = None) -> MaskedLMCollator:
    """The standard BERT/RoBERTa masking collator (15%, 80/10/10, dynamic per batch)."""
    return MaskedLMCollator(tokenizer=tokenizer, mlm_probability=mlm_probability, whole_word_mask=whole_word_mask,
                            mask_replace_prob=mask_replace_prob, random_replace_prob=random_replace_prob,
                            pad_to_multiple_of=pad_to_multiple_of, seed=seed)
