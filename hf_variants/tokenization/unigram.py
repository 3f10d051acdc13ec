"""SentencePiece Unigram (ALBERT, T5, Switch): NFKC or a model's precompiled charsmap, `▁` word marks."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import Unigram

from .base import SPIECE_UNDERLINE, HfvTokenizerBase
from .spm_normalizer import build_decoder, build_normalizer, build_pre_tokenizer, check_normalizer_spec


class HfvUnigramTokenizer(HfvTokenizerBase):
    """SentencePiece Unigram: NFKC (or a SentencePiece model's precompiled charsmap), whitespace split, `▁` marks."""

    model = Unigram
    vocab_files_names = {"vocab_file": "spiece.model", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab: str | list[tuple[str, float]] | None = None,
        nfkc: bool = True,
        add_prefix_space: bool = True,
        _spm_precompiled_charsmap: bytes | None = None,
        spm_normalizer: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("merges", None)
        kwargs.pop("unk_id", None)
        if isinstance(vocab, (str, os.PathLike)):
            raise ValueError("pass a SentencePiece .model through tokenizer_from_files or from_pretrained")
        if vocab is None:
            vocab = [(token, 0.0) for token in self.training_special_tokens()] + [(SPIECE_UNDERLINE, -2.0)]
        vocab = [(str(piece), float(score)) for piece, score in vocab]
        unk = str(kwargs.get("unk_token", self.special_defaults["unk_token"]))
        unk_id = next((i for i, (piece, _) in enumerate(vocab) if piece == unk), None)
        if unk_id is None:
            raise ValueError(f"Unigram vocabulary has no unknown token {unk!r}")
        self._tokenizer = Tokenizer(Unigram(vocab, unk_id=unk_id, byte_fallback=False))
        steps = self._normalizers(kwargs)
        if spm_normalizer is not None:  # a SentencePiece model's own normaliser (see spm_normalizer.py)
            spm_normalizer = check_normalizer_spec(spm_normalizer)
            nfkc, add_prefix_space = False, spm_normalizer["add_dummy_prefix"]
            steps.append(build_normalizer(spm_normalizer, _spm_precompiled_charsmap, split=True))
            self._tokenizer.pre_tokenizer = build_pre_tokenizer(spm_normalizer, split=True)
            self._tokenizer.decoder = build_decoder(spm_normalizer, byte_fallback=False)
        else:
            if _spm_precompiled_charsmap:
                steps.append(normalizers.Precompiled(_spm_precompiled_charsmap))
            elif nfkc:
                steps.append(normalizers.NFKC())
            scheme = "always" if add_prefix_space else "never"
            self._tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.WhitespaceSplit(),
                pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme),
            ])
            self._tokenizer.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)
        self._tokenizer.normalizer = normalizers.Sequence(steps) if steps else None
        if spm_normalizer is not None:
            kwargs["spm_normalizer"] = spm_normalizer
        super().__init__(nfkc=nfkc, add_prefix_space=add_prefix_space, **kwargs)

    def _normalizers(self, kwargs: dict[str, Any]) -> list[normalizers.Normalizer]:
        return []
