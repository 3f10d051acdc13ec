"""Registration of every variant with the transformers Auto classes — the only place it happens."""

from __future__ import annotations

import transformers
from transformers import AutoConfig, AutoTokenizer

from .variants import VARIANTS

_registered = False


def _tokenizer_classes() -> dict[str, type]:
    try:
        from .tokenization import TOKENIZER_CLASSES
    except ImportError:  # tokenizers not built yet: models still register
        return {}
    return TOKENIZER_CLASSES


def register_all() -> None:
    """Register configs, model classes and tokenizers of all `VARIANTS` (idempotent)."""
    global _registered
    if _registered:
        return
    tokenizers = _tokenizer_classes()
    for name, spec in VARIANTS.items():
        AutoConfig.register(spec.model_type, spec.config_class, exist_ok=True)
        for head, cls in spec.classes.items():
            getattr(transformers, spec.auto_classes[head]).register(spec.config_class, cls, exist_ok=True)
        if name in tokenizers:
            AutoTokenizer.register(spec.config_class, tokenizer_class=tokenizers[name], exist_ok=True)
    _registered = True
