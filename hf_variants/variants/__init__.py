"""Every named variant: importing this package declares them all (one small module each)."""

from . import albert, bert, distilbert, electra, roberta  # noqa: F401  (declaration happens on import)
from .spec import VARIANTS, ConfigField, NativeMapping, VariantSpec, declare_variant

__all__ = ["VARIANTS", "ConfigField", "NativeMapping", "VariantSpec", "declare_variant"]
