"""Per variant: train on a few KB, save, reload (class and AutoTokenizer), same ids/decoding/templates/batching."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from hf_variants.tokenization import TOKENIZER_CLASSES, TOKENIZER_KINDS, train_tokenizer

from .conftest import PAIRS, PROBES

# (first special ids of a single text, last special ids, token types of the second segment of a pair)
TEMPLATES = {
    "wordpiece": (["[CLS]"], ["[SEP]"], 1),
    "unigram-albert": (["[CLS]"], ["[SEP]"], 1),
    "unigram-t5": ([], ["</s>"], 0),
    "byte-level-bpe-roberta": (["<s>"], ["</s>"], 0),
    "byte-level-bpe-gpt2": ([], [], 1),
    "bpe-byte-fallback": (["<s>"], [], 1),
    "bpe": ([], ["</s>"], 0),
    "bpe-gpt": ([], [], 1),
    "bytes": ([], ["</s>"], 0),
}


def template_of(name: str) -> tuple[list[str], list[str], int]:
    kind = TOKENIZER_KINDS[name]
    if kind == "unigram":
        kind += "-albert" if name == "albert" else "-t5"
    elif kind == "bpe" and name == "gpt":
        kind += "-gpt"
    elif kind == "byte-level-bpe":
        kind += "-gpt2" if name == "gpt2" else "-roberta"
    return TEMPLATES[kind]


@pytest.fixture(scope="module")
def trained(corpus):
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = train_tokenizer(name, corpus, vocab_size=600, show_progress=False)
        return cache[name]

    return get


def encodings(tok) -> list:
    single = [tok(t, return_offsets_mapping=True).data for t in PROBES]
    pairs = [tok(a, b, return_token_type_ids=True).data for a, b in PAIRS]
    batch = tok(PROBES, padding="longest", truncation=True, max_length=10).data
    return [single, pairs, batch]


@pytest.mark.parametrize("name", list(TOKENIZER_CLASSES))
def test_train_save_reload(name, trained, tmp_path):
    tok = trained(name)
    assert isinstance(tok, TOKENIZER_CLASSES[name])
    assert len(tok) <= 600 or name == "byt5"
    tok.save_pretrained(tmp_path)
    for reloaded in (TOKENIZER_CLASSES[name].from_pretrained(tmp_path), AutoTokenizer.from_pretrained(tmp_path)):
        assert type(reloaded) is TOKENIZER_CLASSES[name]
        assert encodings(reloaded) == encodings(tok)
        assert reloaded.get_vocab() == tok.get_vocab()
        assert reloaded.all_special_tokens == tok.all_special_tokens
        for text in PROBES:
            ids = tok(text).input_ids
            assert reloaded.decode(ids) == tok.decode(ids)


@pytest.mark.parametrize("name", list(TOKENIZER_CLASSES))
def test_templates_and_token_types(name, trained):
    tok = trained(name)
    first, last, second_type = template_of(name)
    ids = tok("hello world").input_ids
    tokens = tok.convert_ids_to_tokens(ids)
    assert tokens[: len(first)] == first and (not last or tokens[-len(last):] == last), tokens
    assert tok("hello world", add_special_tokens=False).input_ids == ids[len(first) : len(ids) - len(last)]
    pair = tok("hello", "world", return_token_type_ids=True)
    assert pair["token_type_ids"][0] == 0 and pair["token_type_ids"][-1] == second_type
    assert ("token_type_ids" in tok("x")) == ("token_type_ids" in tok.model_input_names)


@pytest.mark.parametrize("name", list(TOKENIZER_CLASSES))
@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_and_truncation(name, side, trained):
    tok = trained(name)
    tok.padding_side, tok.truncation_side = side, side
    try:
        batch = tok(["a short one", "a much longer sentence with many more words in it"], padding=True, truncation=True, max_length=8)
    finally:
        tok.padding_side = tok.truncation_side = type(tok).padding_side
    lengths = {len(ids) for ids in batch["input_ids"]}
    assert len(lengths) == 1 and lengths.pop() <= 8
    pad_row, mask = batch["input_ids"][0], batch["attention_mask"][0]
    if 0 in mask:
        pad_at = 0 if side == "left" else -1
        assert mask[pad_at] == 0 and pad_row[pad_at] == tok.pad_token_id


@pytest.mark.parametrize("name", ["t5", "switch"])
def test_t5_sentinels(name, trained):
    tok = trained(name)
    sentinels = tok.get_sentinel_tokens()
    assert sentinels == [f"<extra_id_{i}>" for i in range(100)]
    ids = tok.get_sentinel_token_ids()
    assert ids[0] == len(tok) - 1 and ids == sorted(ids, reverse=True)
    assert tok("x <extra_id_3> y").input_ids.count(ids[3]) == 1
    assert len(tok) <= 600


def test_byt5_needs_no_training(corpus):
    tok = train_tokenizer("byt5", corpus)
    assert tok("é").input_ids == [0xC3 + 3, 0xA9 + 3, 1]


def test_lossless_round_trip_for_byte_tokenizers(trained):
    for name in ("gpt2", "roberta", "llama", "byt5"):
        tok = trained(name)
        for text in PROBES:
            if name == "llama":  # as LlamaTokenizer: the decoder strips one leading space (the `▁` it prepends)
                text = text.lstrip(" ")
            assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text, (name, text)


def test_streams_datasets_column(corpus):
    """Lists, generators, Datasets and IterableDatasets train the same way (the trainers break ties
    non-deterministically, so compare vocabulary size and overlap rather than exact ids)."""
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": corpus, "label": [0] * len(corpus)})
    reference = set(train_tokenizer("bert", corpus, vocab_size=300, show_progress=False).get_vocab())
    for texts in (ds, ds.to_iterable_dataset(), (line for line in corpus), ds["text"]):
        vocab = set(train_tokenizer("bert", texts, vocab_size=300, show_progress=False).get_vocab())
        assert len(vocab) == len(reference) and len(vocab ^ reference) < 0.1 * len(vocab)
    with pytest.raises(ValueError, match="text_column"):
        train_tokenizer("bert", ds, text_column="sentence")


def test_tokenizer_kwargs_are_kept(corpus, tmp_path):
    tok = train_tokenizer("bert", corpus, vocab_size=300, show_progress=False, do_lower_case=False)
    assert "Héllo" in tok.decode(tok("Héllo").input_ids)
    tok.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path).do_lower_case is False
