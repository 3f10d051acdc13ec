"""NSP (BERT) and SOP (ALBERT) pair construction, collation, and learning."""

from __future__ import annotations

import pytest
import torch

from hf_variants.objectives import make_sentence_pairs, sentence_pair_collator, split_sentences
from hf_variants.variants.albert import HfvAlbertConfig, HfvAlbertForPreTraining
from hf_variants.variants.bert import HfvBertConfig, HfvBertForPreTraining

from .conftest import TINY, train_steps
from .corpus import DOCUMENTS


def _position(doc_ids: list[int], piece: list[int]) -> int:
    for i in range(len(doc_ids) - len(piece) + 1):
        if doc_ids[i:i + len(piece)] == piece:
            return i
    return -1


def _segments(example, tokenizer):
    ids, types = example["input_ids"], example["token_type_ids"]
    special = set(tokenizer.all_special_ids)
    a = [t for t, s in zip(ids, types) if s == 0 and t not in special]
    b = [t for t, s in zip(ids, types) if s == 1 and t not in special]
    return a, b


@pytest.mark.parametrize("task,key", [("nsp", "next_sentence_label"), ("sop", "sentence_order_label")])
def test_pairs_layout_and_balance(bert_tokenizer, task, key):
    examples = make_sentence_pairs(DOCUMENTS * 6, bert_tokenizer, task=task, max_length=48, seed=0)
    assert len(examples) > 100
    labels = [e[key] for e in examples]
    assert 0.35 < sum(labels) / len(labels) < 0.65
    sep = bert_tokenizer.sep_token_id
    for e in examples:
        assert len(e["input_ids"]) <= 48
        assert e["input_ids"][0] == bert_tokenizer.cls_token_id and e["input_ids"].count(sep) == 2
        types = e["token_type_ids"]
        assert types == sorted(types) and 0 in types and 1 in types  # A (0) then B (1)


def test_sop_label_means_order(bert_tokenizer):
    """In-order pairs have A before B in their document, swapped pairs B before A."""
    docs = [bert_tokenizer(d, add_special_tokens=False)["input_ids"] for d in DOCUMENTS]
    examples = make_sentence_pairs(DOCUMENTS, bert_tokenizer, task="sop", max_length=64, seed=1)
    consistent = 0
    for e in examples:
        a, b = _segments(e, bert_tokenizer)
        for doc in docs:
            pa, pb = _position(doc, a[:4]), _position(doc, b[:4])
            if pa >= 0 and pb >= 0:
                consistent += (pa < pb) == (e["sentence_order_label"] == 0)
                break
    assert consistent >= 0.9 * len(examples)


def test_nsp_random_segments_come_from_elsewhere(bert_tokenizer):
    docs = [bert_tokenizer(d, add_special_tokens=False)["input_ids"] for d in DOCUMENTS]
    examples = make_sentence_pairs(DOCUMENTS, bert_tokenizer, task="nsp", max_length=64, seed=2)
    for e in examples:
        a, b = _segments(e, bert_tokenizer)
        home = [i for i, d in enumerate(docs) if _position(d, a[:5]) >= 0]
        b_home = [i for i, d in enumerate(docs) if _position(d, b[:5]) >= 0]
        if home and b_home and e["next_sentence_label"] == 1:
            assert set(home) != set(b_home)
        elif home and b_home:
            assert set(home) & set(b_home)


def test_pair_errors(bert_tokenizer):
    with pytest.raises(ValueError, match="task"):
        make_sentence_pairs(DOCUMENTS, bert_tokenizer, task="xyz")
    with pytest.raises(ValueError, match="two documents"):
        make_sentence_pairs(DOCUMENTS[:1], bert_tokenizer, task="nsp")
    assert split_sentences("One. Two! Three? four") == ["One.", "Two!", "Three?", "four"]


@pytest.mark.parametrize("task", ["nsp", "sop"])
def test_pair_pretraining_lowers_loss(bert_tokenizer, albert_tokenizer, task):
    torch.manual_seed(0)
    if task == "nsp":
        tokenizer, model = bert_tokenizer, HfvBertForPreTraining(HfvBertConfig(vocab_size=len(bert_tokenizer), **TINY))
    else:
        tokenizer = albert_tokenizer
        model = HfvAlbertForPreTraining(HfvAlbertConfig(vocab_size=len(albert_tokenizer), embedding_size=16, **TINY))
    examples = make_sentence_pairs(DOCUMENTS, tokenizer, task=task, max_length=64, seed=3)[:16]
    batch = sentence_pair_collator(tokenizer, seed=0)(examples)
    assert {"input_ids", "token_type_ids", "attention_mask", "labels"} <= set(batch)
    assert batch["next_sentence_label" if task == "nsp" else "sentence_order_label"].shape == (len(examples),)
    before, after = train_steps(model, batch)
    assert after < before - 0.5, (before, after)


def test_pretraining_pairs_follow_the_run_seed(bert_tokenizer):
    """`hfv pretrain --seed` seeds torch before `recipe.prepare`; the NSP/SOP pairs follow that seed (issue 14)."""
    from hf_variants.objectives.recipes import pretraining_recipe

    config = HfvBertConfig(vocab_size=len(bert_tokenizer), **TINY)
    texts = [" ".join(DOCUMENTS)] * 4

    def pairs(seed: int) -> list:
        torch.manual_seed(seed)
        _, train_set, _, _ = pretraining_recipe("mlm+nsp").prepare(config, bert_tokenizer, texts, texts, 48)
        return list(train_set["input_ids"]) + list(train_set["next_sentence_label"])

    assert pairs(1) == pairs(1)
    assert pairs(1) != pairs(2)
