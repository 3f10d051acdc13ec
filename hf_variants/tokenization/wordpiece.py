"""WordPiece with BERT's normaliser, pre-tokeniser and template (the BERT, DistilBERT and ELECTRA tokenizers)."""

from __future__ import annotations

import os
from typing import Any

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece

from ._io import read_wordpiece_vocab
from .base import HfvTokenizerBase


class HfvWordPieceTokenizer(HfvTokenizerBase):
    """WordPiece with BERT's normaliser and pre-tokeniser and the `[CLS] A [SEP] B [SEP]` template."""

    model = WordPiece
    vocab_files_names = {"vocab_file": "vocab.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    special_defaults = {
        "pad_token": "[PAD]",
        "unk_token": "[UNK]",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
    }

    def __init__(
        self,
        vocab: str | dict[str, int] | None = None,
        do_lower_case: bool = True,
        tokenize_chinese_chars: bool = True,
        strip_accents: bool | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("merges", None)
        if isinstance(vocab, (str, os.PathLike)):
            vocab = read_wordpiece_vocab(vocab)
        if vocab is None:
            vocab = {token: i for i, token in enumerate(self.training_special_tokens())}
        unk = str(kwargs.get("unk_token", self.special_defaults["unk_token"]))
        if unk not in vocab:
            raise ValueError(f"WordPiece vocabulary has no unknown token {unk!r}; it is needed for unseen words")
        self._tokenizer = Tokenizer(WordPiece(vocab, unk_token=unk))
        self._tokenizer.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents, lowercase=do_lower_case
        )
        self._tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        self._tokenizer.decoder = decoders.WordPiece(prefix="##")
        self.do_lower_case = do_lower_case
        super().__init__(
            do_lower_case=do_lower_case, tokenize_chinese_chars=tokenize_chinese_chars, strip_accents=strip_accents, **kwargs
        )

    def _template(self) -> processors.PostProcessor:
        return self._cls_sep_template()
