"""A SentencePiece `.model` loaded with `tokenizer_from_files` gives sentencepiece's own ids (issue 14) on
whitespace-, tab-, multiple-space- and emoji-heavy text, for the model's own normaliser spec: rules `nmt_nfkc`,
`nfkc` and `identity`, with and without `remove_extra_whitespaces` and `add_dummy_prefix`, Unigram and BPE —
also after a save/load round trip."""

import pytest

from hf_variants.data import load
from hf_variants.tokenization import tokenizer_from_files

spm = pytest.importorskip("sentencepiece")

ODD = ["tab\there\t\tand  two  spaces", "emoji 😀 party 🎉🎉 ok", "   leading and trailing   ", "\tTabbed\tline\t",
       "ｆｕｌｌ ｗｉｄｔｈ ①", "a\tb", "x \t y", "\t", "  \t  ", "multi\n\nline\ttext", "😀\t😀  😀", "Hello\u3000world",
       "a\u00a0b", "zero\u200bwidth", "mixed \r\n endings\r", "▁already marked", " ▁ x", "", "four    spaces    here",
       "🧑‍🤝‍🧑👍🏽🇫🇷 flags", "x ▁y ▁", "a\x0bb\x85c\u2028d", "a\r\nb"]

# (model type, normalization_rule_name, remove_extra_whitespaces, add_dummy_prefix, variants loading it)
SETTINGS = [
    ("unigram", "nmt_nfkc", True, True, ("t5", "switch")),  # sentencepiece's defaults (T5/ALBERT releases)
    ("unigram", "nfkc", True, True, ("t5",)),
    ("unigram", "identity", False, True, ("t5",)),
    ("unigram", "nmt_nfkc", False, True, ("t5",)),
    ("unigram", "nfkc", False, False, ("t5",)),
    ("unigram", "identity", True, False, ("t5",)),
    ("bpe", "nmt_nfkc", True, True, ("llama",)),
    ("bpe", "identity", False, True, ("llama",)),  # LLaMA's release setting
    ("bpe", "nfkc", True, False, ("llama",)),
]


@pytest.fixture(scope="module")
def texts():
    return [t for t in load("shakespeare")["train"]["text"] if t.strip()][:300]


def _train(texts, folder, model_type, rule, remove_extra, dummy_prefix) -> str:
    prefix = folder / "m"
    special = dict(pad_id=0, eos_id=1, unk_id=2, bos_id=-1) if model_type == "unigram" else {}
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts + ODD * 5), model_prefix=str(prefix), vocab_size=600,
                                   model_type=model_type, character_coverage=1.0, byte_fallback=model_type == "bpe",
                                   normalization_rule_name=rule, remove_extra_whitespaces=remove_extra,
                                   add_dummy_prefix=dummy_prefix, minloglevel=2, **special)
    return f"{prefix}.model"


@pytest.mark.parametrize(("model_type", "rule", "remove_extra", "dummy_prefix", "variants"), SETTINGS,
                         ids=[f"{s[0]}-{s[1]}-extra_ws_{s[2]}-dummy_{s[3]}" for s in SETTINGS])
def test_ids_equal_sentencepiece(model_type, rule, remove_extra, dummy_prefix, variants, texts, tmp_path):
    model_file = _train(texts, tmp_path, model_type, rule, remove_extra, dummy_prefix)
    processor = spm.SentencePieceProcessor(model_file=model_file)
    expected = [processor.encode(text) for text in ODD]
    for variant in variants:
        tokenizer = tokenizer_from_files(variant, model_file)
        tokenizer.save_pretrained(tmp_path / variant)
        reloaded = type(tokenizer).from_pretrained(tmp_path / variant)
        for tok in (tokenizer, reloaded):
            got = [tok(text, add_special_tokens=False)["input_ids"] for text in ODD]
            assert {t: g for t, g, e in zip(ODD, got, expected) if g != e} == {}, variant
            for text, ids in zip(ODD, got):  # sentencepiece decodes a leading `▁` in the text its own way
                assert "▁" in text or tok.decode(ids) == processor.decode(ids), (variant, text)


def test_bad_normaliser_spec_is_refused():
    from hf_variants.tokenization.spm_normalizer import check_normalizer_spec

    with pytest.raises(ValueError, match="unknown keys.*'remove_whitespace'"):
        check_normalizer_spec({"remove_whitespace": True})
    with pytest.raises(TypeError, match=r"spm_normalizer\['add_dummy_prefix'\]='yes' must be a bool"):
        check_normalizer_spec({"add_dummy_prefix": "yes"})


def test_whitespace_suffix_model_is_refused(texts, tmp_path):
    prefix = tmp_path / "suffix"
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_prefix=str(prefix), vocab_size=300,
                                   treat_whitespace_as_suffix=True, minloglevel=2)
    with pytest.raises(ValueError, match="treat_whitespace_as_suffix=True"):
        tokenizer_from_files("t5", f"{prefix}.model")
