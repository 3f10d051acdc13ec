"""BPE algorithm classes: byte-level (GPT-2, RoBERTa, BART) and byte fallback (LLaMA family), and BPE file helpers."""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import Tokenizer, decoders, pre_tokenizers
from tokenizers.models import BPE

from ._io import read_bpe_files
from .base import BYTE_TOKENS, SPIECE_UNDERLINE, HfvTokenizerBase
from .chat import DEFAULT_CHAT_TEMPLATE
from .spm_normalizer import build_decoder, build_normalizer, build_pre_tokenizer, check_normalizer_spec


def _bpe_data(vocab: Any, merges: Any) -> tuple[dict[str, int], list[tuple[str, str]]]:
    if isinstance(vocab, (str, os.PathLike)):
        if not isinstance(merges, (str, os.PathLike)):
            raise ValueError("a BPE vocab.json path needs the merges.txt path as well")
        return read_bpe_files(vocab, merges)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in (merges or [])]
    return dict(vocab), merges


def _bpe(vocab: dict[str, int], merges: list, **options: Any) -> BPE:
    try:
        return BPE(vocab=vocab, merges=merges, dropout=None, **options)
    except Exception as err:  # tokenizers raises a plain Exception for merges outside the vocabulary
        raise ValueError(f"invalid BPE vocabulary/merges: {err}") from None


class HfvByteLevelBPETokenizer(HfvTokenizerBase):
    """Byte-level BPE (GPT-2's byte-to-unicode alphabet): never an unknown token, lossless decoding."""

    model = BPE
    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab: str | dict[str, int] | None = None,
        merges: str | list | None = None,
        add_prefix_space: bool = False,
        trim_offsets: bool = True,
        **kwargs: Any,
    ) -> None:
        if vocab is None:
            vocab = {token: i for i, token in enumerate(self.training_special_tokens())}
            vocab.update({c: len(vocab) + i for i, c in enumerate(pre_tokenizers.ByteLevel.alphabet())})
        vocab, merges = _bpe_data(vocab, merges)
        self._tokenizer = Tokenizer(
            _bpe(vocab, merges, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False)
        )
        self._tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        self._tokenizer.decoder = decoders.ByteLevel()
        self.trim_offsets = trim_offsets
        super().__init__(add_prefix_space=add_prefix_space, trim_offsets=trim_offsets, **kwargs)


class HfvByteFallbackBPETokenizer(HfvTokenizerBase):
    """BPE over `▁`-marked text with byte fallback (LLaMA/SentencePiece style): unknown characters become bytes."""

    model = BPE
    vocab_files_names = {"vocab_file": "tokenizer.model", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "left"
    special_defaults = {"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>"}
    default_chat_template = DEFAULT_CHAT_TEMPLATE

    def __init__(
        self,
        vocab: str | dict[str, int] | None = None,
        merges: str | list | None = None,
        add_prefix_space: bool = True,
        _spm_precompiled_charsmap: bytes | None = None,
        spm_normalizer: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if vocab is None:
            vocab = {t: i for i, t in enumerate(self.training_special_tokens() + BYTE_TOKENS)}
        vocab, merges = _bpe_data(vocab, merges)
        self._tokenizer = Tokenizer(_bpe(vocab, merges, fuse_unk=True, byte_fallback=True))
        if spm_normalizer is not None:  # a SentencePiece model's own normaliser (see spm_normalizer.py)
            kwargs["spm_normalizer"] = spm_normalizer = check_normalizer_spec(spm_normalizer)
            add_prefix_space = spm_normalizer["add_dummy_prefix"]
            self._tokenizer.normalizer = build_normalizer(spm_normalizer, _spm_precompiled_charsmap, split=False)
            self._tokenizer.pre_tokenizer = build_pre_tokenizer(spm_normalizer, split=False)
            self._tokenizer.decoder = build_decoder(spm_normalizer, byte_fallback=True)
        else:
            self._tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
                replacement=SPIECE_UNDERLINE, prepend_scheme="first" if add_prefix_space else "never", split=False
            )
            steps = [decoders.Replace(SPIECE_UNDERLINE, " "), decoders.ByteFallback(), decoders.Fuse()]
            if add_prefix_space:
                steps.append(decoders.Strip(content=" ", left=1))
            self._tokenizer.decoder = decoders.Sequence(steps)
        # save_pretrained drops add_bos/eos_token; on load recover them from the saved template.
        kwargs.setdefault("add_bos_token", _template_ends(kwargs.get("post_processor"), 0, default=True))
        kwargs.setdefault("add_eos_token", _template_ends(kwargs.get("post_processor"), -1, default=False))
        super().__init__(add_prefix_space=add_prefix_space, **kwargs)


def _template_ends(post_processor: Any, index: int, default: bool) -> bool:
    """Whether a saved TemplateProcessing starts (index 0) or ends (index -1) with a special token."""
    if post_processor is None:
        return default
    state = json.loads(post_processor.__getstate__())
    single = state.get("single") or [{}]
    return "SpecialToken" in single[index]
