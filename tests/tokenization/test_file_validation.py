"""Tokenizer files and training corpora that would give a tokenizer smaller than its ids, or fail opaquely, are
refused naming the file, line or text (issue 14)."""

import json

import pytest

from hf_variants.tokenization import tokenizer_from_files, train_tokenizer


def test_a_vocab_txt_with_a_duplicate_line_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nhello\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"'hello' on line 8 repeats line 6"):
        tokenizer_from_files("bert", path)


def test_a_vocab_txt_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes(b"[PAD]\n[UNK]\n\xff\xfe\n")
    with pytest.raises(ValueError, match="is not UTF-8"):
        tokenizer_from_files("bert", path)


def test_a_vocab_json_with_gaps_or_repeated_ids_is_refused(tmp_path):
    merges = tmp_path / "merges.txt"
    merges.write_text("#version: 0.2\na b\n", encoding="utf-8")
    vocab = tmp_path / "vocab.json"
    vocab.write_text(json.dumps({"a": 0, "b": 1, "ab": 5, "<|endoftext|>": 2}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"ids missing: \[3\]"):
        tokenizer_from_files("gpt2", vocab, merges)
    vocab.write_text(json.dumps({"a": 0, "b": 1, "ab": 1, "<|endoftext|>": 2}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"repeated: \[1\]"):
        tokenizer_from_files("gpt2", vocab, merges)


def test_training_on_an_empty_corpus_or_a_lone_surrogate_is_refused():
    with pytest.raises(ValueError, match="no text to train"):
        train_tokenizer("bert", [], vocab_size=200, show_progress=False)
    with pytest.raises(ValueError, match="no text to train"):
        train_tokenizer("gpt2", ["", "   "], vocab_size=400, show_progress=False)
    with pytest.raises(ValueError, match="text 1 cannot be encoded as UTF-8"):
        train_tokenizer("bert", ["fine", "bad \ud800 text"], vocab_size=200, show_progress=False)
