"""The base class of every hf_variants tokenizer (save/load behaviour, templates) and shared constants."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import processors
from transformers.tokenization_utils_tokenizers import TokenizersBackend

SPIECE_UNDERLINE = "▁"
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


class HfvTokenizerBase(TokenizersBackend):
    """Shared behaviour of all hf_variants tokenizers.

    Subclasses declare `special_defaults` (special-token attribute -> default string, in the id order used when
    training) and build their pipeline in `__init__`; `_template()` returns the post-processor, if fixed.
    """

    special_defaults: dict[str, Any] = {}
    # Chat template used when none is given or saved (decoders: tokenization/chat.py; others: none).
    default_chat_template: str | None = None
    # Set on `import hf_variants` (hf_variants.hub): writes the flat remote code next to a saved tokenizer. The
    # exported copy of this file keeps None: transformers saves classes loaded as remote code by itself.
    remote_code_writer = None

    def __init__(self, **kwargs: Any) -> None:
        for name, value in self.special_defaults.items():
            kwargs.setdefault(name, value)
        if kwargs.get("chat_template") is None and self.default_chat_template is not None:
            kwargs["chat_template"] = self.default_chat_template
        super().__init__(**kwargs)
        template = self._template()
        if template is not None:
            self._tokenizer.post_processor = template

    @classmethod
    def convert_to_native_format(cls, trust_remote_code: bool = False, **kwargs: Any) -> dict[str, Any]:
        """Always rebuild from vocab/merges, also for subclasses that only change defaults.

        transformers loads `tokenizer.json` verbatim for classes without their own `__init__`; passing the class
        that defines `__init__` makes every variant take the same (rebuilding) path.
        """
        owner = next(k for k in cls.__mro__ if "__init__" in k.__dict__)
        return TokenizersBackend.convert_to_native_format.__func__(owner, trust_remote_code=False, **kwargs)

    @classmethod
    def training_special_tokens(cls) -> list[str]:
        """Special tokens in the order they get the first ids of a freshly trained vocabulary."""
        return list(dict.fromkeys(str(v) for v in cls.special_defaults.values() if v is not None))

    def _template(self) -> processors.PostProcessor | None:
        return None

    def _cls_sep_template(self) -> processors.PostProcessor:
        """BERT's `[CLS] A [SEP] B [SEP]` with token types 0/1 (BERT-style WordPiece and ALBERT)."""
        cls, sep = self._tid(self.cls_token), self._tid(self.sep_token)
        return processors.TemplateProcessing(
            single=f"{cls[0]}:0 $A:0 {sep[0]}:0",
            pair=f"{cls[0]}:0 $A:0 {sep[0]}:0 $B:1 {sep[0]}:1",
            special_tokens=[cls, sep],
        )

    def _tid(self, token: Any) -> tuple[str, int]:
        token = str(token)
        token_id = self._tokenizer.token_to_id(token)
        if token_id is None:
            raise ValueError(f"special token {token!r} is not in the vocabulary of {type(self).__name__}")
        return token, token_id

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, remote_code: bool = True,
                        **kwargs: Any) -> tuple[str, ...]:
        """`save_pretrained`, plus (unless `remote_code=False`) the flat remote code and `auto_map` entry that let
        the folder load with `trust_remote_code=True` where hf_variants is not installed."""
        files = super().save_pretrained(save_directory, *args, **kwargs)
        writer = HfvTokenizerBase.remote_code_writer
        if writer is not None:
            writer(save_directory, type(self).__name__, remote_code)
        return files

    def _save_pretrained(self, save_directory: str | os.PathLike, file_names: tuple[str, ...], **kwargs: Any) -> tuple[str, ...]:
        """Also write the plain vocabulary files (vocab.txt / vocab.json + merges.txt) that native loaders read."""
        files = super()._save_pretrained(save_directory, file_names, **kwargs)
        if self.vocab_files_names.get("vocab_file", "").endswith((".txt", ".json")):
            files = files + tuple(self._tokenizer.model.save(str(save_directory)))
        return files
