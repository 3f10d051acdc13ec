"""Registration of every variant with the transformers Auto classes — the only place it happens."""

from __future__ import annotations

import transformers
from transformers import AutoConfig, AutoTokenizer
from transformers.models.auto import tokenization_auto

from .variants import VARIANTS

_registered = False


def register_all() -> None:
    """Register configs, model classes and tokenizers of all `VARIANTS` (idempotent)."""
    global _registered
    if _registered:
        return
    for spec in VARIANTS.values():
        AutoConfig.register(spec.model_type, spec.config_class, exist_ok=True)
        for head, cls in spec.classes.items():
            getattr(transformers, spec.auto_classes[head]).register(spec.config_class, cls, exist_ok=True)
        AutoTokenizer.register(spec.config_class, tokenizer_class=spec.tokenizer, exist_ok=True)
        # Lets `AutoTokenizer.from_pretrained(dir)` resolve `tokenizer_class` from tokenizer_config.json even for a
        # folder without a model config.
        tokenization_auto.REGISTERED_TOKENIZER_CLASSES.setdefault(spec.tokenizer.__name__, spec.tokenizer)
    _registered = True
