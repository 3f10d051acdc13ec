"""Tokenizers for every variant: classes, training (`train_tokenizer`) and loading existing vocabularies
(`tokenizer_from_files`). Imports nothing from the model side of hf_variants."""

from __future__ import annotations

from transformers.models.auto import tokenization_auto as _auto

from .classes import (
    HfvAlbertTokenizer,
    HfvBartTokenizer,
    HfvBertTokenizer,
    HfvByT5Tokenizer,
    HfvDistilBertTokenizer,
    HfvElectraTokenizer,
    HfvGPT2Tokenizer,
    HfvGPTTokenizer,
    HfvLlamaTokenizer,
    HfvMistralTokenizer,
    HfvMixtralTokenizer,
    HfvRNNTokenizer,
    HfvRobertaTokenizer,
    HfvSwitchTokenizer,
    HfvT5Tokenizer,
    HfvTokenizerBase,
    HfvTransformerTokenizer,
)
from .files import tokenizer_from_files
from .training import train_tokenizer
from .variants import TOKENIZER_CLASSES, TOKENIZER_KINDS, tokenizer_class

# Let `AutoTokenizer.from_pretrained(dir)` resolve `tokenizer_class` from tokenizer_config.json even for a folder
# without a model config (the registry's AutoTokenizer.register also does this, per config class).
for _cls in TOKENIZER_CLASSES.values():
    _auto.REGISTERED_TOKENIZER_CLASSES.setdefault(_cls.__name__, _cls)

__all__ = [
    "TOKENIZER_CLASSES",
    "TOKENIZER_KINDS",
    "HfvAlbertTokenizer",
    "HfvBartTokenizer",
    "HfvBertTokenizer",
    "HfvByT5Tokenizer",
    "HfvDistilBertTokenizer",
    "HfvElectraTokenizer",
    "HfvGPT2Tokenizer",
    "HfvGPTTokenizer",
    "HfvLlamaTokenizer",
    "HfvMistralTokenizer",
    "HfvMixtralTokenizer",
    "HfvRNNTokenizer",
    "HfvRobertaTokenizer",
    "HfvSwitchTokenizer",
    "HfvT5Tokenizer",
    "HfvTokenizerBase",
    "HfvTransformerTokenizer",
    "tokenizer_class",
    "tokenizer_from_files",
    "train_tokenizer",
]
