"""Every named variant: importing this package declares them all (one small module each)."""

from . import (  # noqa: F401  (declaration happens on import)  # noqa: F401  # noqa: F401
    albert,
    bart,
    bert,
    byt5,
    distilbert,
    electra,
    gpt,
    gpt2,
    llama,
    mistral,
    mixtral,  # noqa: F401
    rnn,
    roberta,
    switch,  # noqa: F401
    t5,
    transformer,
)
from .spec import VARIANTS, ConfigField, NativeMapping, VariantSpec, declare_variant

__all__ = ["VARIANTS", "ConfigField", "NativeMapping", "VariantSpec", "declare_variant"]
