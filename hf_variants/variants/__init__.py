"""Every named variant: importing this package declares them all (one small module each)."""

from . import albert, bert, distilbert, electra, roberta  # noqa: F401  (declaration happens on import)
from . import gpt2, llama, mistral  # noqa: F401
from . import mixtral  # noqa: F401
from . import bart, byt5, t5, transformer  # noqa: F401
from . import switch  # noqa: F401
from .spec import VARIANTS, ConfigField, NativeMapping, VariantSpec, declare_variant

__all__ = ["VARIANTS", "ConfigField", "NativeMapping", "VariantSpec", "declare_variant"]
