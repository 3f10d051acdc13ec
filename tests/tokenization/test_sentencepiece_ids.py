"""A SentencePiece `.model` loaded with `tokenizer_from_files` gives sentencepiece's own ids (issue 14) on
whitespace-, tab- and emoji-heavy text — for models with sentencepiece's default normalisation (`nmt_nfkc`,
extra whitespace removed), the setting of the T5/ALBERT releases."""

import pytest

from hf_variants.data import load
from hf_variants.tokenization import tokenizer_from_files

spm = pytest.importorskip("sentencepiece")

ODD = ["tab\there\t\tand  two  spaces", "emoji 😀 party 🎉🎉 ok", "   leading and trailing   ", "\tTabbed\tline\t",
       "ｆｕｌｌ ｗｉｄｔｈ ①", "a\tb", "x \t y", "\t", "  \t  ", "multi\n\nline\ttext", "😀\t😀  😀", "Hello\u3000world",
       "a\u00a0b", "zero\u200bwidth", "mixed \r\n endings\r"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    texts = [t for t in load("shakespeare")["train"]["text"] if t.strip()][:400]
    prefix = tmp_path_factory.mktemp("spm") / "m"
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts + ODD * 5), model_prefix=str(prefix), vocab_size=600,
                                   model_type="unigram", character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2,
                                   bos_id=-1, minloglevel=2)
    return f"{prefix}.model"


@pytest.mark.parametrize("variant", ["t5", "switch"])
def test_ids_equal_sentencepiece_on_odd_whitespace_and_emoji(variant, model_file):
    processor = spm.SentencePieceProcessor(model_file=model_file)
    tokenizer = tokenizer_from_files(variant, model_file)
    for text in ODD:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == processor.encode(text), repr(text)
