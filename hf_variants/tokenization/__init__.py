"""Tokenizers for every variant: classes, training (`train_tokenizer`) and loading existing vocabularies
(`tokenizer_from_files`). The classes import nothing from the model side of hf_variants (variant files import
them); which variant uses which class is read from the variant declarations (`variants.py`)."""

from __future__ import annotations

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
