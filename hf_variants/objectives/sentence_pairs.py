"""Sentence-pair examples for BERT's next-sentence prediction (NSP) and ALBERT's sentence-order prediction (SOP).

Segments are built as in BERT's `create_pretraining_data.py`: consecutive sentences of one document are gathered
up to a target length, split at a random sentence boundary into A and B; then
- NSP: half of the time B is replaced by text from another document (`next_sentence_label` 1 = random, 0 = next);
- SOP: half of the time A and B are swapped (`sentence_order_label` 1 = swapped, 0 = in order).
Masking is then done per batch by `MaskedLMCollator`, which pads and passes the pair label through.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from transformers import PreTrainedTokenizerBase

from .mlm import MaskedLMCollator

PAIR_TASKS = {"nsp": "next_sentence_label", "sop": "sentence_order_label"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """A deliberately simple splitter (after . ! ? followed by whitespace); pass lists of sentences to use your own."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _as_sentences(documents: Iterable[str | Sequence[str]]) -> list[list[str]]:
    docs = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            sentences = split_sentences(doc)
        elif isinstance(doc, Sequence) and all(isinstance(s, str) for s in doc):
            sentences = [s for s in doc if s.strip()]
        else:
            raise TypeError(f"document {i} must be a string or a list of sentence strings, got {type(doc).__name__}")
        if sentences:
            docs.append(sentences)
    return docs


def make_sentence_pairs(
    documents: Iterable[str | Sequence[str]],
    tokenizer: PreTrainedTokenizerBase,
    task: str = "nsp",
    max_length: int = 128,
    short_seq_prob: float = 0.1,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Turn documents (strings, or lists of sentences) into tokenized pair examples with their pair label.

    Each example has `input_ids`, `token_type_ids`, `special_tokens_mask` and `next_sentence_label` (task "nsp")
    or `sentence_order_label` (task "sop"), at most `max_length` tokens including special tokens. With
    `short_seq_prob` a shorter target length is drawn, so the model also sees short inputs (as BERT did).
    `datasets.Dataset.from_list(...)` turns the result into a dataset.
    """
    if task not in PAIR_TASKS:
        raise ValueError(f"task={task!r} is not supported; allowed: {sorted(PAIR_TASKS)}")
    reserved = tokenizer.num_special_tokens_to_add(pair=True)
    if max_length <= reserved + 1:
        raise ValueError(f"max_length={max_length} leaves no room for two segments ({reserved} special tokens)")
    if not 0.0 <= short_seq_prob <= 1.0:
        raise ValueError(f"short_seq_prob={short_seq_prob} must be in [0, 1]")
    docs = _as_sentences(documents)
    if task == "nsp" and len(docs) < 2:
        raise ValueError("next-sentence prediction needs at least two documents (random B segments come from another)")
    lengths = _sentence_lengths(docs, tokenizer)
    rng = random.Random(seed)
    budget = max_length - reserved
    pairs: list[tuple[str, str, int]] = []
    for d in range(len(docs)):
        pairs.extend(_document_pairs(docs, lengths, d, task, budget, short_seq_prob, rng))
    if not pairs:
        return []
    first, second, labels = zip(*pairs)
    enc = tokenizer(list(first), list(second), truncation="longest_first", max_length=max_length,
                    return_token_type_ids=True, return_special_tokens_mask=True, return_attention_mask=False)
    key = PAIR_TASKS[task]
    return [{"input_ids": ids, "token_type_ids": types, "special_tokens_mask": special, key: label}
            for ids, types, special, label in zip(enc["input_ids"], enc["token_type_ids"],
                                                   enc["special_tokens_mask"], labels)]


def _sentence_lengths(docs: list[list[str]], tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    flat = [s for doc in docs for s in doc]
    counts = iter(len(ids) for ids in tokenizer(flat, add_special_tokens=False)["input_ids"])
    return [[next(counts) for _ in doc] for doc in docs]


def _document_pairs(docs, lengths, d, task, budget, short_seq_prob, rng) -> list[tuple[str, str, int]]:
    """BERT's chunking of one document into (A, B, label) text pairs."""
    doc, doc_lengths = docs[d], lengths[d]
    target = rng.randint(2, budget) if rng.random() < short_seq_prob else budget
    pairs, chunk, size, i = [], [], 0, 0
    while i < len(doc):
        chunk.append(i)
        size += doc_lengths[i]
        if i == len(doc) - 1 or size >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            first = [doc[j] for j in chunk[:a_end]]
            second = [doc[j] for j in chunk[a_end:]]
            label = 0
            if task == "nsp" and (not second or rng.random() < 0.5):
                second = _random_segment(docs, lengths, d, target - sum(doc_lengths[j] for j in chunk[:a_end]), rng)
                label = 1
                i -= len(chunk) - a_end  # the unused sentences start the next chunk instead of being lost
            elif not second:
                first, second = _split_single(doc[chunk[0]])
            if task == "sop" and rng.random() < 0.5:
                first, second, label = second, first, 1
            if first and second:
                pairs.append((" ".join(first), " ".join(second), label))
            chunk, size = [], 0
        i += 1
    return pairs


def _random_segment(docs, lengths, d, target: int, rng) -> list[str]:
    other = rng.randrange(len(docs) - 1)
    other += other >= d  # any document but this one
    start = rng.randrange(len(docs[other]))
    segment, size = [], 0
    for sentence, n in zip(docs[other][start:], lengths[other][start:]):
        segment.append(sentence)
        size += n
        if size >= max(1, target):
            break
    return segment


def _split_single(sentence: str) -> tuple[list[str], list[str]]:
    """A one-sentence chunk is split between words so it still forms an ordered pair."""
    words = sentence.split()
    if len(words) < 2:
        return [], []
    cut = len(words) // 2
    return [" ".join(words[:cut])], [" ".join(words[cut:])]


def sentence_pair_collator(tokenizer: PreTrainedTokenizerBase, mlm_probability: float = 0.15,
                           **mlm_options: Any) -> MaskedLMCollator:
    """MLM masking (per batch) plus padding of `token_type_ids` and stacking of the pair label."""
    return MaskedLMCollator(tokenizer=tokenizer, mlm_probability=mlm_probability, **mlm_options)
