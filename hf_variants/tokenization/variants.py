"""Which tokenizer each variant uses (SPEC §3): the class and the algorithm kind."""

from __future__ import annotations

from . import classes as c

TOKENIZER_CLASSES: dict[str, type[c.HfvTokenizerBase]] = {
    "transformer": c.HfvTransformerTokenizer,
    "bert": c.HfvBertTokenizer,
    "distilbert": c.HfvDistilBertTokenizer,
    "albert": c.HfvAlbertTokenizer,
    "roberta": c.HfvRobertaTokenizer,
    "electra": c.HfvElectraTokenizer,
    "gpt": c.HfvGPTTokenizer,
    "gpt2": c.HfvGPT2Tokenizer,
    "llama": c.HfvLlamaTokenizer,
    "mistral": c.HfvMistralTokenizer,
    "mixtral": c.HfvMixtralTokenizer,
    "t5": c.HfvT5Tokenizer,
    "byt5": c.HfvByT5Tokenizer,
    "bart": c.HfvBartTokenizer,
    "switch": c.HfvSwitchTokenizer,
    "rnn": c.HfvRNNTokenizer,
}

_KIND_OF_BASE = {
    c.HfvWordPieceTokenizer: "wordpiece",
    c.HfvTransformerTokenizer: "bpe",
    c.HfvGPTTokenizer: "bpe",
    c.HfvUnigramTokenizer: "unigram",
    c.HfvByteLevelBPETokenizer: "byte-level-bpe",
    c.HfvByteFallbackBPETokenizer: "bpe-byte-fallback",
    c.HfvByT5Tokenizer: "bytes",
}

TOKENIZER_KINDS: dict[str, str] = {
    name: next(kind for base, kind in _KIND_OF_BASE.items() if issubclass(cls, base))
    for name, cls in TOKENIZER_CLASSES.items()
}


def tokenizer_class(name: str) -> type[c.HfvTokenizerBase]:
    """The tokenizer class of variant `name`; a ValueError lists the known names otherwise."""
    try:
        return TOKENIZER_CLASSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown variant {name!r}; expected one of: {', '.join(TOKENIZER_CLASSES)}") from None
