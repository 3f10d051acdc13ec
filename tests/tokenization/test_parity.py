"""Parity with the native transformers tokenizers built from the same vocabulary files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import transformers

from hf_variants.tokenization import HfvByT5Tokenizer, tokenizer_from_files, train_tokenizer

from .conftest import PAIRS, PROBES

spm = pytest.importorskip("sentencepiece")


def assert_same(ours, native, texts=PROBES, pairs=PAIRS) -> None:
    """Same ids, offsets (where the backend gives them), token types and decoding on single texts and pairs."""
    for text in texts:
        a = ours(text, return_offsets_mapping=True)
        b = native(text, return_offsets_mapping=True)
        assert a["input_ids"] == b["input_ids"], text
        assert a["offset_mapping"] == b["offset_mapping"], text
        assert ours.decode(a["input_ids"]) == native.decode(b["input_ids"]), text
        assert ours.decode(a["input_ids"], skip_special_tokens=True) == native.decode(b["input_ids"], skip_special_tokens=True)
        assert ours.tokenize(text) == native.tokenize(text), text
    for first, second in pairs:
        a = ours(first, second, return_token_type_ids=True)
        b = native(first, second, return_token_type_ids=True)
        assert a["input_ids"] == b["input_ids"] and a["token_type_ids"] == b["token_type_ids"], (first, second)
    batch_a = ours(list(texts), padding=True, truncation=True, max_length=12)
    batch_b = native(list(texts), padding=True, truncation=True, max_length=12)
    assert batch_a["input_ids"] == batch_b["input_ids"]
    assert batch_a["attention_mask"] == batch_b["attention_mask"]


def _only(folder: Path, *names: str) -> Path:
    """A fresh folder holding just the given vocabulary files (so the native class cannot read our tokenizer.json)."""
    out = folder.parent / (folder.name + "_files")
    out.mkdir()
    for name in names:
        shutil.copy(folder / name, out / name)
    return out


@pytest.mark.parametrize(
    "variant,native_name", [("bert", "BertTokenizer"), ("electra", "ElectraTokenizer"), ("distilbert", "DistilBertTokenizer")]
)
def test_wordpiece_vocab_txt(variant, native_name, corpus, tmp_path):
    train_tokenizer(variant, corpus, vocab_size=400, show_progress=False).save_pretrained(tmp_path)
    files = _only(tmp_path, "vocab.txt")
    ours = tokenizer_from_files(variant, files / "vocab.txt")
    native = getattr(transformers, native_name).from_pretrained(files)
    assert_same(ours, native)
    assert ours.model_input_names == native.model_input_names


@pytest.mark.parametrize(
    "variant,native_name", [("roberta", "RobertaTokenizer"), ("bart", "BartTokenizer"), ("gpt2", "GPT2Tokenizer")]
)
def test_byte_level_bpe_vocab_merges(variant, native_name, corpus, tmp_path):
    train_tokenizer(variant, corpus, vocab_size=500, show_progress=False).save_pretrained(tmp_path)
    files = _only(tmp_path, "vocab.json", "merges.txt")
    ours = tokenizer_from_files(variant, files / "merges.txt", files / "vocab.json")
    native = getattr(transformers, native_name).from_pretrained(files)
    if native.pad_token is None:  # GPT-2 has no pad token natively; ours pads with <|endoftext|>
        native.pad_token = native.eos_token
    assert_same(ours, native)


def test_gpt_bpe_vocab_merges(corpus, tmp_path):
    """GPT-1: BPE with `</w>` word ends over lower-cased, BERT-pre-tokenised text, as native OpenAIGPTTokenizer."""
    trained = train_tokenizer("gpt", corpus, vocab_size=500, show_progress=False)
    assert any(token.endswith("</w>") for token in trained.get_vocab())
    trained.save_pretrained(tmp_path)
    files = _only(tmp_path, "vocab.json", "merges.txt")
    ours = tokenizer_from_files("gpt", files / "vocab.json", files / "merges.txt")
    native = transformers.OpenAIGPTTokenizer.from_pretrained(files)
    native.pad_token = "<unk>"  # native GPT-1 has no pad token; ours pads with <unk>
    assert_same(ours, native)
    assert ours("Hello World")["input_ids"] == ours("hello world")["input_ids"]


def _spm_train(corpus: list[str], path: Path, **options) -> Path:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_prefix=str(path.with_suffix("")),
        character_coverage=1.0,
        minloglevel=2,
        num_threads=2,
        **options,
    )
    return path


@pytest.fixture(scope="module")
def spm_models(tmp_path_factory, corpus):
    root = tmp_path_factory.mktemp("spm")
    unigram = dict(model_type="unigram", vocab_size=300, hard_vocab_limit=False)
    return {
        "albert": _spm_train(
            corpus, root / "albert.model", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"], **unigram,
        ),
        "t5": _spm_train(corpus, root / "t5.model", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, **unigram),
        # LLaMA's release normaliser (identity, spaces kept). Native LlamaTokenizer ignores a model's charsmap, so
        # with sentencepiece's default nmt_nfkc it disagrees with sentencepiece itself; ours follows sentencepiece
        # (tests/tokenization/test_sentencepiece_ids.py).
        "llama": _spm_train(
            corpus, root / "llama.model", model_type="bpe", vocab_size=600, byte_fallback=True,
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1, remove_extra_whitespaces=False, normalization_rule_name="identity",
        ),
    }


def _native_dir(model: Path, file_name: str, tmp_path: Path) -> Path:
    folder = tmp_path / "native"
    folder.mkdir()
    shutil.copy(model, folder / file_name)
    return folder


@pytest.mark.parametrize(
    "variant,native_name,model,file_name,native_kwargs",
    [
        ("albert", "AlbertTokenizer", "albert", "spiece.model", {}),
        ("t5", "T5Tokenizer", "t5", "spiece.model", {}),
        ("switch", "T5Tokenizer", "t5", "spiece.model", {}),
        ("llama", "LlamaTokenizer", "llama", "tokenizer.model", {"add_bos_token": True}),
        ("mistral", "LlamaTokenizer", "llama", "tokenizer.model", {"add_bos_token": True}),
        ("mixtral", "LlamaTokenizer", "llama", "tokenizer.model", {"add_bos_token": True}),
    ],
)
def test_sentencepiece_model(variant, native_name, model, file_name, native_kwargs, spm_models, tmp_path):
    ours = tokenizer_from_files(variant, spm_models[model])
    native = getattr(transformers, native_name).from_pretrained(
        _native_dir(spm_models[model], file_name, tmp_path), **native_kwargs
    )
    if native.pad_token is None:
        native.pad_token = native.eos_token
    assert len(ours) == len(native)
    assert ours.all_special_tokens == native.all_special_tokens or set(ours.all_special_tokens) >= {
        str(t) for t in native.all_special_tokens
    }
    if model == "llama":
        # Native LlamaTokenizer's Metaspace(prepend_scheme="first") adds no dummy prefix before a leading space;
        # sentencepiece does, and so do we: compare those texts with sentencepiece instead.
        leading = [text for text in PROBES if text.startswith(" ")]
        processor = spm.SentencePieceProcessor(model_file=str(spm_models[model]))
        assert leading and all(ours(t, add_special_tokens=False).input_ids == processor.encode(t) for t in leading)
        assert_same(ours, native, texts=[text for text in PROBES if text not in leading])
    else:
        assert_same(ours, native)
    if variant in ("t5", "switch"):
        sentinels = ours.get_sentinel_tokens()
        assert len(sentinels) == 100 and sentinels[0] == "<extra_id_0>"
        assert ours.convert_tokens_to_ids(sentinels) == native.convert_tokens_to_ids(sentinels)
        assert ours("a <extra_id_0> b").input_ids == native("a <extra_id_0> b").input_ids


def test_llama_from_vocab_json_matches_trained(corpus, tmp_path):
    """A trained LLaMA tokenizer written as vocab.json + merges.txt loads back with the same ids.

    (merges.txt cannot hold tokens with a newline, so the corpus here has none.)
    """
    corpus = [line.replace("\n", " ") for line in corpus]
    trained = train_tokenizer("llama", corpus, vocab_size=600, show_progress=False)
    trained.backend_tokenizer.model.save(str(tmp_path))
    ours = tokenizer_from_files("llama", tmp_path / "vocab.json", tmp_path / "merges.txt")
    merges = json.loads(trained.backend_tokenizer.to_str())["model"]["merges"]
    native = transformers.LlamaTokenizer(vocab=trained.get_vocab(), merges=[tuple(m) for m in merges], add_bos_token=True)
    native.pad_token = native.eos_token
    assert_same(ours, native)
    assert_same(trained, ours)


BYT5_TEXTS = PROBES + ["héllo 😀 </s> x<extra_id_0>y<pad>", "<unk>", "</s> a"]


def test_byt5_matches_native():
    ours, native = HfvByT5Tokenizer(), transformers.ByT5Tokenizer()
    assert len(ours) == len(native) == 384
    for text in BYT5_TEXTS:
        a, b = ours(text).input_ids, native(text).input_ids
        assert a == b, text
        assert ours.decode(a) == native.decode(b)
        assert ours.decode(a, skip_special_tokens=True) == native.decode(b, skip_special_tokens=True)
    assert ours("ab", "cd").input_ids == native("ab", "cd").input_ids
    sentinels = [f"<extra_id_{i}>" for i in (0, 1, 124)]
    assert ours.convert_tokens_to_ids(sentinels) == native.convert_tokens_to_ids(sentinels)
    batch = ours(BYT5_TEXTS, padding=True, truncation=True, max_length=9)
    assert batch["input_ids"] == native(BYT5_TEXTS, padding=True, truncation=True, max_length=9)["input_ids"]


@pytest.mark.parametrize(
    "ids",
    [
        [3 + 0xFF, 3 + ord("a"), 3 + 0xE2, 3 + 0x82],  # stray bytes and a truncated 3-byte sequence
        [3 + 0xC3, 1, 3 + 0xA9, 3 + 0xF0, 3 + 0x9F],  # a character broken by </s>
        [3 + 0xEF, 3 + 0xBF, 3 + 0xBD, 3 + 0x80],  # a real U+FFFD next to an invalid byte
        [259, 3 + 0xC3, 3 + 0xA9, 383, 0, 2],
    ],
)
def test_byt5_invalid_utf8_decoding(ids):
    ours, native = HfvByT5Tokenizer(), transformers.ByT5Tokenizer()
    assert ours.decode(ids) == native.decode(ids)
    assert ours.decode(ids, skip_special_tokens=True) == native.decode(ids, skip_special_tokens=True)


def test_byt5_known_difference_trailing_eos():
    """ByT5Tokenizer skips its eos when the text already ends with a literal `</s>` (it warns this will change);
    ours, like T5Tokenizer, always appends it."""
    assert HfvByT5Tokenizer()("a</s>").input_ids == [100, 1, 1]
