"""Work-arounds that make the `tokenizers` trainers (Rust) give the same tokenizer in every process.

The trainers count words in a `HashMap`, whose iteration order is random per map (Rust's `RandomState`; not
PYTHONHASHSEED, not threads: `RAYON_NUM_THREADS=1` does not help), and two steps depend on that order:

- BPE/WordPiece (`tokenizers/src/models/bpe/trainer.rs`, `tokenize_words`): symbols that are not plain alphabet
  characters — WordPiece's `##x` continuations, GPT's `x</w>` word ends — get their ids in word-iteration order,
  and merges of equal count are tie-broken by symbol id. So merge order (and, at the vocabulary limit, which merges
  are kept) moved between runs. `seeded_symbols` finds those symbols with a counting-only pass (vocab_size 0: no
  merges) so that the real pass can register them first, in sorted order, as the trainer's special tokens.
- Unigram (`unigram/trainer.rs`): the E-step sums over sentences in map order (scores differ in the last bits)
  and `finalize` hands the characters that must be in the vocabulary ascending penalty scores in `HashSet` order.
  `canonical_unigram` re-deals those penalty scores by character, rounds scores to 6 decimals and orders pieces
  by (score descending, piece), so ids depend on neither. Not a proof: a score whose last-bit noise straddles a
  rounding boundary would still move (not seen in our runs; at 10 decimals it was, once in ~1,200 pieces).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from tokenizers import Tokenizer

# `UnigramTrainer::finalize` gives required characters missing from the model min_score + k * this.
_PENALTY_STEP = 1e-4
_DECIMALS = 6


def needs_seeded_symbols(kind: str, options: dict[str, Any]) -> bool:
    """Whether the trainer creates prefixed/suffixed symbols (whose ids would follow the word-map order)."""
    return kind == "wordpiece" or bool(options.get("continuing_subword_prefix") or options.get("end_of_word_suffix"))


def seeded_symbols(backend: Tokenizer, make_trainer: Callable[..., Any], batches: Iterable[list[str]],
                   specials: list[str], length: int | None) -> list[str]:
    """The prefixed/suffixed symbols the trainer will create on this corpus, sorted: a pass that only counts
    words (vocab_size 0 stops before the first merge) and reads them off its vocabulary."""
    backend.train_from_iterator(batches, trainer=make_trainer(vocab_size=0), length=length)
    vocab = _vocab(backend)
    return sorted(t for t in vocab if t not in specials and len(t) > 1)


def _vocab(backend: Tokenizer) -> dict[str, int]:
    import json

    return json.loads(backend.to_str())["model"]["vocab"]


def canonical_unigram(pieces: list[tuple[str, float]], unk_token: str) -> list[tuple[str, float]]:
    """Unigram pieces in an order (and with scores) that does not depend on the trainer's map orders."""
    pieces = [(p, float(s)) for p, s in pieces]
    lowest = min((s for p, s in pieces if p != unk_token), default=0.0)
    # The penalty ladder: single characters scored lowest + k * step (k = 0, 1, ...) in set order.
    ladder = sorted((i for i, (p, s) in enumerate(pieces) if len(p) == 1 and p != unk_token
                     and _on_ladder(s, lowest)), key=lambda i: pieces[i][1])
    scores = [pieces[i][1] for i in ladder]
    for i, score in zip(sorted(ladder, key=lambda i: pieces[i][0]), scores):
        pieces[i] = (pieces[i][0], score)
    rounded = [(p, round(s, _DECIMALS)) for p, s in pieces]
    return sorted(rounded, key=lambda ps: (ps[0] != unk_token, -ps[1], ps[0]))


def _on_ladder(score: float, lowest: float) -> bool:
    steps = (score - lowest) / _PENALTY_STEP
    return steps < 1e6 and math.isclose(steps, round(steps), abs_tol=1e-6)
