"""Readers for existing vocabulary files, with errors that name the file and what is wrong with it."""

from __future__ import annotations

import collections
import json
import os
from typing import Any

from .spm_normalizer import read_normalizer_spec


def _check_file(path: str | os.PathLike, what: str) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{what} file not found: {path!r}")
    return path


def read_wordpiece_vocab(path: str | os.PathLike) -> dict[str, int]:
    """WordPiece `vocab.txt`: one token per line, the id is the line number (as BERT's original format)."""
    path = _check_file(path, "WordPiece vocabulary")
    try:
        with open(path, encoding="utf-8") as f:
            tokens = [line.rstrip("\r\n") for line in f]
    except UnicodeDecodeError as err:
        raise ValueError(f"WordPiece vocabulary {path!r} is not UTF-8: {err}") from None
    if not tokens or not any(tokens):
        raise ValueError(f"WordPiece vocabulary {path!r} is empty; expected one token per line")
    first: dict[str, int] = {}
    for line, token in enumerate(tokens, start=1):
        if token in first:
            raise ValueError(f"WordPiece vocabulary {path!r}: {token!r} on line {line} repeats line {first[token]} "
                             "(ids are line numbers: a duplicate leaves an id no token has)")
        first[token] = line
    return {token: index for index, token in enumerate(tokens)}


def read_bpe_files(vocab_path: str | os.PathLike, merges_path: str | os.PathLike) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """BPE `vocab.json` (token -> id) and `merges.txt` (one `left right` pair per line, optional `#version` header)."""
    vocab_path = _check_file(vocab_path, "BPE vocabulary (vocab.json)")
    merges_path = _check_file(merges_path, "BPE merges (merges.txt)")
    try:
        with open(vocab_path, encoding="utf-8") as f:
            vocab: Any = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"BPE vocabulary {vocab_path!r} is not valid JSON (UTF-8): {err}") from None
    if not isinstance(vocab, dict) or not vocab or not all(isinstance(v, int) for v in vocab.values()):
        raise ValueError(f"BPE vocabulary {vocab_path!r} must be a non-empty JSON object mapping token -> integer id")
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))):
        missing = sorted(set(range(len(ids))) - set(ids))[:5]
        beyond = [i for i in ids if not 0 <= i < len(ids)][:5]
        repeated = sorted(i for i, n in collections.Counter(ids).items() if n > 1)[:5]
        raise ValueError(f"BPE vocabulary {vocab_path!r} must number its {len(ids)} tokens 0..{len(ids) - 1} once "
                         f"each; ids missing: {missing}, out of that range: {beyond}, repeated: {repeated}")
    merges: list[tuple[str, str]] = []
    with open(merges_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if (number == 1 and line.startswith("#version")) or not line:
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(f"BPE merges {merges_path!r} line {number}: expected 'left right', got {line!r}")
            merges.append((parts[0], parts[1]))
    return vocab, merges


def read_sentencepiece(path: str | os.PathLike, model_class: type) -> dict[str, Any]:
    """A SentencePiece `.model` as constructor kwargs (vocab, merges for BPE, unk_id, charsmap, normaliser spec,
    control tokens).

    Reuses transformers' extractor so that the result is exactly what the native tokenizers see; needs the
    `sentencepiece` (or `protobuf`) package, which only this path requires.
    """
    path = _check_file(path, "SentencePiece model")
    try:
        from transformers.convert_slow_tokenizer import SentencePieceExtractor

        extractor = SentencePieceExtractor(path)
    except ImportError as err:
        raise ImportError(f"reading {path!r} needs the sentencepiece package: pip install sentencepiece ({err})") from None
    except Exception as err:  # protobuf raises its own DecodeError type
        raise ValueError(f"{path!r} is not a valid SentencePiece model: {err}") from None
    if not len(extractor.proto.pieces):
        raise ValueError(f"SentencePiece model {path!r} has no pieces")
    kwargs = extractor.extract(model_class)
    kwargs["_spm_model_type"] = "unigram" if extractor.proto.trainer_spec.model_type == 1 else "bpe"
    kwargs["_spm_byte_fallback"] = bool(extractor.proto.trainer_spec.byte_fallback)
    kwargs["spm_normalizer"] = read_normalizer_spec(extractor.proto, path)
    return kwargs
