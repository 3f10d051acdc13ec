"""Build a variant's tokenizer from an existing vocabulary (vocab.txt, vocab.json + merges.txt, SentencePiece .model)."""

from __future__ import annotations

import os
from typing import Any

from ._io import read_bpe_files, read_sentencepiece, read_wordpiece_vocab
from .base import HfvTokenizerBase
from .variants import TOKENIZER_KINDS, tokenizer_class

# Which file formats each kind accepts, and the SentencePiece model type it needs.
_FORMATS = {
    "wordpiece": ("vocab.txt",),
    "bpe": ("vocab.json + merges.txt",),
    "byte-level-bpe": ("vocab.json + merges.txt",),
    "bpe-byte-fallback": ("SentencePiece BPE .model", "vocab.json + merges.txt"),
    "unigram": ("SentencePiece Unigram .model",),
    "bytes": (),
}
_SPM_TYPE = {"bpe-byte-fallback": "bpe", "unigram": "unigram"}


def _expand(paths: tuple[str | os.PathLike, ...]) -> list[str]:
    """A single directory stands for the vocabulary files inside it."""
    if len(paths) == 1 and os.path.isdir(paths[0]):
        folder = os.fspath(paths[0])
        found = sorted(f for f in os.listdir(folder) if f in ("vocab.txt", "vocab.json", "merges.txt") or f.endswith(".model"))
        if "vocab.json" in found:
            found = [f for f in found if f != "vocab.txt"]
        if not found:
            raise ValueError(f"no vocabulary file (vocab.txt, vocab.json + merges.txt, *.model) in {folder!r}")
        return [os.path.join(folder, f) for f in found]
    return [os.fspath(p) for p in paths]


def tokenizer_from_files(name: str, *paths: str | os.PathLike, **kwargs: Any) -> HfvTokenizerBase:
    """Variant `name`'s tokenizer over an existing vocabulary, giving the ids the native tokenizer gives.

    `paths`: a WordPiece `vocab.txt`; a BPE `vocab.json` and `merges.txt` (any order); a SentencePiece `.model`
    (needs the `sentencepiece` package); or one folder holding them. `byt5` takes no files. `kwargs` go to the class.
    """
    cls = tokenizer_class(name)
    kind = TOKENIZER_KINDS[name]
    files = _expand(paths) if paths else []
    allowed = " or ".join(_FORMATS[kind]) or "no files"
    if kind == "bytes":
        if files:
            raise ValueError(f"{name!r} is a fixed byte tokenizer and takes no vocabulary files, got {files}")
        return cls(**kwargs)
    suffixes = sorted(os.path.splitext(f)[1] for f in files)
    if suffixes == [".txt"] and kind == "wordpiece":
        return cls(vocab=read_wordpiece_vocab(files[0]), **kwargs)
    if suffixes == [".json", ".txt"] and "vocab.json + merges.txt" in _FORMATS[kind]:
        vocab_path = next(f for f in files if f.endswith(".json"))
        merges_path = next(f for f in files if f.endswith(".txt"))
        vocab, merges = read_bpe_files(vocab_path, merges_path)
        return cls(vocab=vocab, merges=merges, **kwargs)
    if suffixes == [".model"] and kind in _SPM_TYPE:
        spm = read_sentencepiece(files[0], cls.model)
        spm_type = spm.pop("_spm_model_type")
        spm.pop("_spm_byte_fallback")
        if spm_type != _SPM_TYPE[kind]:
            raise ValueError(f"{files[0]!r} is a SentencePiece {spm_type} model; {name!r} needs {allowed}")
        return cls(**{**spm, **kwargs})
    raise ValueError(f"{name!r} ({kind}) needs {allowed}; got {files or 'no files'}")
