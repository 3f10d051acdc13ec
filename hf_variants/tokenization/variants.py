"""Which tokenizer each variant uses (SPEC §3): the class its declaration names, and the algorithm kind.

Read from `hf_variants.variants.VARIANTS` on use (variant files import the tokenizer classes, so this table cannot
be built while they are being imported); nothing here lists variants by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from . import classes as c

_KIND_OF_BASE = {
    c.HfvWordPieceTokenizer: "wordpiece",
    c.HfvTransformerTokenizer: "bpe",
    c.HfvGPTTokenizer: "bpe",
    c.HfvUnigramTokenizer: "unigram",
    c.HfvByteLevelBPETokenizer: "byte-level-bpe",
    c.HfvByteFallbackBPETokenizer: "bpe-byte-fallback",
    c.HfvByT5Tokenizer: "bytes",
}


def _variants() -> dict:
    from ..variants import VARIANTS

    return VARIANTS


def tokenizer_kind(cls: type) -> str:
    """The training algorithm of a tokenizer class ("wordpiece", "bpe", ...), from the recipe it derives from."""
    kind = next((kind for base, kind in _KIND_OF_BASE.items() if issubclass(cls, base)), None)
    if kind is None:
        raise ValueError(f"{cls.__name__} derives from none of the tokenizer recipes "
                         f"{', '.join(base.__name__ for base in _KIND_OF_BASE)}")
    return kind


class _ByVariant(Mapping):
    """variant name -> value for every declared variant, computed from `VARIANTS` when read."""

    def __init__(self, value) -> None:
        self._value = value

    def __getitem__(self, name: str):
        return self._value(_variants()[name].tokenizer)

    def __iter__(self) -> Iterator[str]:
        return iter(_variants())

    def __len__(self) -> int:
        return len(_variants())


TOKENIZER_CLASSES: Mapping[str, type[c.HfvTokenizerBase]] = _ByVariant(lambda cls: cls)
TOKENIZER_KINDS: Mapping[str, str] = _ByVariant(tokenizer_kind)


def tokenizer_class(name: str) -> type[c.HfvTokenizerBase]:
    """The tokenizer class of variant `name`; a ValueError lists the known names otherwise."""
    try:
        return TOKENIZER_CLASSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown variant {name!r}; expected one of: {', '.join(TOKENIZER_CLASSES)}") from None
