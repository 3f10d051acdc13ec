"""Pretraining recipes by objective key: which model head, which data preparation and which collator.

A variant declares its objective as one of the keys of `PRETRAINING_RECIPES` (`declare_variant(...,
objective="mlm")`); the pretraining workflow (`hf_variants.training.pretrain`) resolves the key here. Keys, not
objects, keep imports flowing one way: variant files import nothing from the tools, and a new variant with an
existing objective adds no code here. A new objective is a new recipe in this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from datasets import Dataset
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSeq2SeqLM,
    default_data_collator,
)

from .denoising import DenoisingCollator
from .electra import ElectraPreTrainingModel, electra_collator
from .mlm import mlm_collator
from .packing import pack_sequences
from .sentence_pairs import make_sentence_pairs, sentence_pair_collator
from .span_corruption import SpanCorruptionCollator, compute_input_and_target_lengths

# (config, tokenizer, train texts, validation texts, max length) -> (model, train set, validation set, collator)
Prepare = Callable[[Any, Any, list[str], list[str], int], tuple[Any, Dataset, Dataset, Callable]]


@dataclass(frozen=True)
class PretrainingRecipe:
    """How to pretrain with one objective. perplexity: the validation loss is a per-token LM loss (report
    exp(loss)). distillation: the recipe accepts a teacher (`hfv pretrain --teacher`)."""

    prepare: Prepare
    perplexity: bool = False
    distillation: bool = False


def _tokenized(tokenizer, texts: list[str], max_length: int) -> Dataset:
    encoded = tokenizer(texts, truncation=True, max_length=max_length, return_special_tokens_mask=True)
    return Dataset.from_dict(dict(encoded))


def _documents(texts: list[str], per_document: int = 20) -> list[str]:
    """Consecutive speeches grouped into documents, so sentence-pair tasks have neighbours to pick from (and at
    least two documents, which NSP needs for its random second segments)."""
    per_document = max(1, min(per_document, len(texts) // 2))
    return [" ".join(texts[i:i + per_document]) for i in range(0, len(texts), per_document)]


def _masked_lm(config, tokenizer, train_texts, validation_texts, max_length):
    return (AutoModelForMaskedLM.from_config(config), _tokenized(tokenizer, train_texts, max_length),
            _tokenized(tokenizer, validation_texts, max_length), mlm_collator(tokenizer, whole_word_mask=False))


def _sentence_pairs(task: str) -> Prepare:
    def prepare(config, tokenizer, train_texts, validation_texts, max_length):
        seed = torch.initial_seed()  # `hfv pretrain` seeds torch with --seed before preparing (as the collators)
        pairs = [Dataset.from_list(make_sentence_pairs(_documents(t), tokenizer, task=task, max_length=max_length,
                                                       seed=seed)) for t in (train_texts, validation_texts)]
        return AutoModelForPreTraining.from_config(config), *pairs, sentence_pair_collator(tokenizer)

    return prepare


def _replaced_token_detection(config, tokenizer, train_texts, validation_texts, max_length):
    return (ElectraPreTrainingModel.from_config(config), _tokenized(tokenizer, train_texts, max_length),
            _tokenized(tokenizer, validation_texts, max_length), electra_collator(tokenizer))


def _causal_lm(config, tokenizer, train_texts, validation_texts, max_length):
    blocks = [Dataset.from_list(pack_sequences(tokenizer(t, add_special_tokens=False)["input_ids"],
                                               block_size=max_length, eos_token_id=tokenizer.eos_token_id))
              for t in (train_texts, validation_texts)]
    return AutoModelForCausalLM.from_config(config), *blocks, default_data_collator


def _span_corruption(config, tokenizer, train_texts, validation_texts, max_length):
    raw_length, _ = compute_input_and_target_lengths(max_length)
    blocks = [Dataset.from_list(pack_sequences(tokenizer(t, add_special_tokens=False)["input_ids"],
                                               block_size=raw_length, with_labels=False))
              for t in (train_texts, validation_texts)]
    return AutoModelForSeq2SeqLM.from_config(config), *blocks, SpanCorruptionCollator(tokenizer=tokenizer)


def _denoising(config, tokenizer, train_texts, validation_texts, max_length):
    # Without a mask token (and, for the Transformer and RNN baselines, without parallel text) the model is
    # pretrained as a denoising autoencoder with deletions instead of infilling.
    noise = {} if tokenizer.mask_token_id is not None else {"infill_ratio": 0.0, "delete_ratio": 0.15}
    return (AutoModelForSeq2SeqLM.from_config(config), _tokenized(tokenizer, train_texts, max_length),
            _tokenized(tokenizer, validation_texts, max_length), DenoisingCollator(tokenizer=tokenizer, **noise))


PRETRAINING_RECIPES: dict[str, PretrainingRecipe] = {
    "mlm": PretrainingRecipe(_masked_lm),
    "dynamic-mlm": PretrainingRecipe(_masked_lm),  # the collator masks afresh every batch: RoBERTa's dynamic MLM
    "distillation+mlm": PretrainingRecipe(_masked_lm, distillation=True),
    "mlm+nsp": PretrainingRecipe(_sentence_pairs("nsp")),
    "mlm+sop": PretrainingRecipe(_sentence_pairs("sop")),
    "replaced-token-detection": PretrainingRecipe(_replaced_token_detection),
    "causal-lm": PretrainingRecipe(_causal_lm, perplexity=True),
    "span-corruption": PretrainingRecipe(_span_corruption),
    "denoising": PretrainingRecipe(_denoising),
    # Without parallel text the translation models are pretrained as denoising autoencoders too.
    "seq2seq-translation": PretrainingRecipe(_denoising),
}


def pretraining_recipe(objective: str) -> PretrainingRecipe:
    """The recipe of objective key `objective`; a ValueError lists the known keys otherwise."""
    try:
        return PRETRAINING_RECIPES[objective]
    except (KeyError, TypeError):
        raise ValueError(f"objective={objective!r} has no pretraining recipe; known objectives: "
                         f"{', '.join(PRETRAINING_RECIPES)}") from None
