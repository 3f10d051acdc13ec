"""Train a variant's tokenizer on any text stream with the `tokenizers` trainers (Rust, multi-threaded); the result
is the same in every process (`tokenization.deterministic`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from tokenizers import Tokenizer, pre_tokenizers, trainers
from tokenizers.models import BPE, Unigram, WordPiece

from .base import BYTE_TOKENS, SPIECE_UNDERLINE, HfvTokenizerBase
from .deterministic import canonical_unigram, needs_seeded_symbols, seeded_symbols
from .variants import TOKENIZER_KINDS, tokenizer_class

_BATCH = 1000


def _batches(texts: Any, text_column: str) -> Iterator[list[str]]:
    """Stream lists of strings from an iterable of str, a datasets.(Iterable)Dataset, or its column; never all at once."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("texts must be an iterable of strings (or a datasets.Dataset), not a single string")
    column_names = getattr(texts, "column_names", None)
    if column_names is not None and hasattr(texts, "iter"):
        if text_column not in column_names:
            raise ValueError(f"text_column {text_column!r} not in the dataset's columns {column_names}")
        for batch in texts.iter(batch_size=_BATCH):
            yield [t for t in batch[text_column] if t]
        return
    batch: list[str] = []
    for item in texts:
        text = item[text_column] if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise TypeError(f"texts must yield strings, got {type(text).__name__}")
        if text:
            batch.append(text)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _CheckedTexts:
    """The training batches, each text checked to be encodable (a lone surrogate would fail as an opaque TypeError
    inside the trainer), counting the non-blank ones (an empty corpus trains a tokenizer of special tokens only)."""

    def __init__(self, batches: Iterator[list[str]]):
        self.batches, self.seen, self.nonblank = batches, 0, 0

    def __iter__(self) -> Iterator[list[str]]:
        for batch in self.batches:
            for text in batch:
                if not text.isascii():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError as error:
                        raise ValueError(f"text {self.seen} cannot be encoded as UTF-8 ({error.reason} at character "
                                         f"{error.start}: {text[max(0, error.start - 10):error.start + 10]!r})") from None
                self.seen += 1
                self.nonblank += bool(text.strip())
            yield batch


def _length(texts: Any) -> int | None:
    try:
        return len(texts)
    except TypeError:
        return None


def train_tokenizer(
    name: str,
    texts: Iterable[str] | Any,
    vocab_size: int = 8000,
    *,
    min_frequency: int = 2,
    text_column: str = "text",
    show_progress: bool = True,
    trainer_kwargs: dict[str, Any] | None = None,
    chat_template: str | None = None,
    **tokenizer_kwargs: Any,
) -> HfvTokenizerBase:
    """Train variant `name`'s tokenizer (its algorithm, special tokens and templates) on `texts`.

    `texts` is any iterable of strings (streamed in batches), or a `datasets.Dataset`/`IterableDataset` whose
    `text_column` is read. `vocab_size` counts everything, special tokens and T5 sentinels included.
    `tokenizer_kwargs` go to the tokenizer class (e.g. `do_lower_case=False`), `trainer_kwargs` to the trainer.
    ByT5 needs no training: its fixed byte tokenizer is returned. `chat_template` (a Jinja string) replaces the
    class default (decoders: `tokenization.chat.DEFAULT_CHAT_TEMPLATE`; encoders and encoder-decoders: none).
    """
    if chat_template is not None:
        tokenizer_kwargs["chat_template"] = chat_template
    cls = tokenizer_class(name)
    kind = TOKENIZER_KINDS[name]
    template = cls(**tokenizer_kwargs)
    if kind == "bytes":
        return template
    specials = cls.training_special_tokens()
    reserved = len(specials) + {"byte-level-bpe": 256, "bpe-byte-fallback": 256}.get(kind, 0)
    sentinels = tokenizer_kwargs.get("extra_ids", 100) if kind == "unigram" and hasattr(cls, "get_sentinel_tokens") else 0
    if not isinstance(vocab_size, int) or vocab_size <= reserved + sentinels:
        raise ValueError(
            f"vocab_size={vocab_size!r} is too small for {name!r}: it needs more than {reserved + sentinels} entries "
            f"({len(specials)} special tokens{', 256 bytes' if reserved > len(specials) else ''}"
            f"{f', {sentinels} sentinels' if sentinels else ''})"
        )
    options = {"show_progress": show_progress, "special_tokens": specials,
               **getattr(cls, "trainer_options", {}), **(trainer_kwargs or {})}
    backend = Tokenizer(BPE())
    backend.normalizer = template.backend_tokenizer.normalizer
    backend.pre_tokenizer = template.backend_tokenizer.pre_tokenizer
    if kind == "wordpiece":
        backend.model = WordPiece(unk_token=str(template.unk_token))
    elif kind == "unigram":
        backend.model = Unigram()
    elif kind == "byte-level-bpe":
        options.setdefault("initial_alphabet", pre_tokenizers.ByteLevel.alphabet())
    elif kind == "bpe-byte-fallback":
        # Learn merges inside words only (as SentencePiece); the byte tokens are placed after the specials below.
        backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="first", split=True)
    size = vocab_size - {"unigram": sentinels, "bpe-byte-fallback": 256}.get(kind, 0)

    def make_trainer(vocab_size: int, special_tokens: list[str] = specials) -> Any:
        settings = {**options, "special_tokens": special_tokens}
        if kind == "unigram":
            return trainers.UnigramTrainer(vocab_size=vocab_size, unk_token=str(template.unk_token), **settings)
        trainer_class = trainers.WordPieceTrainer if kind == "wordpiece" else trainers.BpeTrainer
        return trainer_class(vocab_size=vocab_size, min_frequency=min_frequency, **settings)

    trainer = make_trainer(size)
    if needs_seeded_symbols(kind, options):  # see tokenization.deterministic: symbol ids must not follow map order
        if iter(texts) is texts:  # a one-shot iterator: keep its texts for the second pass
            texts = list(texts)
        symbols = seeded_symbols(backend, make_trainer, _CheckedTexts(_batches(texts, text_column)), specials,
                                 _length(texts))
        trainer = make_trainer(size, specials + symbols)
    checked = _CheckedTexts(_batches(texts, text_column))
    backend.train_from_iterator(checked, trainer=trainer, length=_length(texts))
    if checked.nonblank == 0:
        raise ValueError(f"no text to train the {name!r} tokenizer on ({checked.seen} texts, all empty or blank)")
    model = json.loads(backend.to_str())["model"]
    if kind == "unigram":
        return cls(vocab=canonical_unigram(model["vocab"], str(template.unk_token)), **tokenizer_kwargs)
    vocab: dict[str, int] = model["vocab"]
    if kind == "bpe-byte-fallback":
        ordered = specials + BYTE_TOKENS + [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t not in specials]
        vocab = {t: i for i, t in enumerate(dict.fromkeys(ordered))}
    merges = model.get("merges")
    return cls(vocab=vocab, merges=merges, **tokenizer_kwargs) if merges is not None else cls(vocab=vocab, **tokenizer_kwargs)
