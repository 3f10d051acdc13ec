"""Clear errors for unknown variants, vocabularies too small, missing or malformed files; Auto registration."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from hf_variants.tokenization import (
    TOKENIZER_CLASSES,
    TOKENIZER_KINDS,
    HfvBertTokenizer,
    tokenizer_from_files,
    train_tokenizer,
)


def test_tables_cover_every_variant():
    import hf_variants

    names = set(hf_variants.VARIANTS)  # the tables are read from the declarations: nothing listed by hand
    assert {"transformer", "bert", "gpt", "t5", "byt5", "rnn"} <= names
    assert set(TOKENIZER_CLASSES) == set(TOKENIZER_KINDS) == names
    assert set(TOKENIZER_KINDS.values()) == {"wordpiece", "bpe", "unigram", "byte-level-bpe", "bpe-byte-fallback", "bytes"}
    assert len({cls.__name__ for cls in TOKENIZER_CLASSES.values()}) == len(names)


@pytest.mark.parametrize("call", [lambda: train_tokenizer("bertt", ["a"]), lambda: tokenizer_from_files("gpt3")])
def test_unknown_variant(call):
    with pytest.raises(ValueError, match="unknown variant .* expected one of: .*bert, .*transformer"):
        call()


@pytest.mark.parametrize("name,size,needs", [("bert", 5, "5 special"), ("llama", 200, "256 bytes"), ("t5", 90, "100 sentinels"),
                                             ("gpt2", 256, "256 bytes")])
def test_vocab_too_small(name, size, needs, corpus):
    with pytest.raises(ValueError, match=f"vocab_size={size} is too small.*{needs}"):
        train_tokenizer(name, corpus, vocab_size=size)


def test_texts_must_be_strings():
    with pytest.raises(TypeError, match="single string"):
        train_tokenizer("bert", "just one string", vocab_size=100)
    with pytest.raises(TypeError, match="must yield strings"):
        train_tokenizer("bert", [1, 2, 3], vocab_size=100, show_progress=False)


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        tokenizer_from_files("bert", tmp_path / "vocab.txt")
    with pytest.raises(ValueError, match="file not found"):
        tokenizer_from_files("t5", tmp_path / "spiece.model")
    with pytest.raises(ValueError, match="no vocabulary file"):
        tokenizer_from_files("roberta", tmp_path)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_malformed_wordpiece(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        tokenizer_from_files("bert", _write(tmp_path / "vocab.txt", ""))
    with pytest.raises(ValueError, match="no unknown token"):
        tokenizer_from_files("bert", _write(tmp_path / "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n"))


def test_malformed_bpe(tmp_path):
    merges = _write(tmp_path / "merges.txt", "#version: 0.2\na b\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        tokenizer_from_files("gpt2", _write(tmp_path / "vocab.json", "{oops"), merges)
    with pytest.raises(ValueError, match="JSON object mapping token -> integer"):
        tokenizer_from_files("gpt2", _write(tmp_path / "vocab.json", "[1, 2]"), merges)
    vocab = _write(tmp_path / "vocab.json", json.dumps({"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}))
    with pytest.raises(ValueError, match="line 2: expected 'left right'"):
        tokenizer_from_files("gpt2", vocab, _write(tmp_path / "merges.txt", "#version: 0.2\na b c\n"))
    with pytest.raises(ValueError, match="invalid BPE vocabulary/merges"):
        tokenizer_from_files("gpt2", vocab, _write(tmp_path / "merges.txt", "a z\n"))
    ok = tokenizer_from_files("gpt2", vocab, _write(tmp_path / "merges.txt", "a b\n"))
    assert ok.tokenize("ab") == ["ab"]


def test_wrong_format_for_kind(tmp_path):
    vocab = _write(tmp_path / "vocab.json", json.dumps({"a": 0}))
    merges = _write(tmp_path / "merges.txt", "")
    with pytest.raises(ValueError, match="'bert' \\(wordpiece\\) needs vocab.txt"):
        tokenizer_from_files("bert", vocab, merges)
    with pytest.raises(ValueError, match="takes no vocabulary files"):
        tokenizer_from_files("byt5", vocab)
    with pytest.raises(ValueError, match="not a valid SentencePiece model"):
        tokenizer_from_files("albert", _write(tmp_path / "bad.model", "definitely not protobuf"))


def test_sentencepiece_model_type_is_checked(tmp_path, corpus):
    spm = pytest.importorskip("sentencepiece")
    spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_prefix=str(tmp_path / "bpe"), vocab_size=300,
                                   model_type="bpe", minloglevel=2, character_coverage=1.0)
    with pytest.raises(ValueError, match="is a SentencePiece bpe model; 't5' needs SentencePiece Unigram"):
        tokenizer_from_files("t5", tmp_path / "bpe.model")


def test_auto_tokenizer_without_model_config(tmp_path):
    """tokenizer_config.json's tokenizer_class alone is enough for AutoTokenizer once hf_variants is imported."""
    HfvBertTokenizer().save_pretrained(tmp_path)
    assert type(AutoTokenizer.from_pretrained(tmp_path)) is HfvBertTokenizer


def test_auto_tokenizer_through_registered_config(tmp_path, corpus):
    """With a variant's config.json in the folder, AutoTokenizer resolves our class through the registry."""
    hf_variants = pytest.importorskip("hf_variants")
    from transformers import AutoConfig

    checked = 0
    for name, spec in getattr(hf_variants, "VARIANTS", {}).items():
        folder = tmp_path / name
        AutoConfig.for_model(spec.model_type).save_pretrained(folder)
        tok = TOKENIZER_CLASSES[name]()
        tok.save_pretrained(folder)
        config = json.loads((folder / "tokenizer_config.json").read_text())
        config.pop("tokenizer_class")  # force resolution through the config class
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
        loaded = AutoTokenizer.from_pretrained(folder)
        assert type(loaded) is TOKENIZER_CLASSES[name], name
        assert loaded("hello").input_ids == tok("hello").input_ids
        checked += 1
    if not checked:
        pytest.skip("no variants registered yet")
