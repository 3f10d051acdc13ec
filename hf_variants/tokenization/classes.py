"""One tokenizer class per algorithm, plus tiny per-variant subclasses that only set special tokens and templates.

Every class is a `TokenizersBackend` (Rust-backed) that builds its whole pipeline in `__init__` from `vocab` (and
`merges`), because transformers 5 rebuilds tokenizers from those on load rather than trusting `tokenizer.json`.
The pipelines follow the native transformers tokenizers so that ids, offsets and decoding agree with them.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE, Unigram, WordPiece
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from ._io import read_bpe_files, read_wordpiece_vocab
from .chat import DEFAULT_CHAT_TEMPLATE

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


# --- WordPiece (BERT, DistilBERT, ELECTRA) -----------------------------------------------------------------------


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


class HfvBertTokenizer(HfvWordPieceTokenizer):
    """BERT: WordPiece, lower-cased, token types for NSP."""


class HfvElectraTokenizer(HfvWordPieceTokenizer):
    """ELECTRA: the BERT tokenizer."""


class HfvDistilBertTokenizer(HfvWordPieceTokenizer):
    """DistilBERT: the BERT tokenizer without token type ids (the model has no segment embeddings)."""

    model_input_names = ["input_ids", "attention_mask"]


# --- BPE: plain (Transformer), byte-level (GPT-2, RoBERTa, BART), byte fallback (LLaMA family) -------------------


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


class HfvGPT2Tokenizer(HfvByteLevelBPETokenizer):
    """GPT-2: one `<|endoftext|>` token for bos/eos/unk; also used as padding (GPT-2 has none)."""

    default_chat_template = DEFAULT_CHAT_TEMPLATE

    special_defaults = {
        "unk_token": "<|endoftext|>",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }


class HfvRobertaTokenizer(HfvByteLevelBPETokenizer):
    """RoBERTa: `<s> A </s></s> B </s>`, no token types."""

    special_defaults = {
        "bos_token": "<s>",
        "pad_token": "<pad>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "mask_token": "<mask>",
    }

    def _template(self) -> processors.PostProcessor:
        return processors.RobertaProcessing(
            self._tid(self.sep_token), self._tid(self.cls_token), self.trim_offsets, self.add_prefix_space
        )


class HfvBartTokenizer(HfvRobertaTokenizer):
    """BART: the RoBERTa tokenizer."""


class HfvTransformerTokenizer(HfvTokenizerBase):
    """Plain BPE for the original Transformer: NFKC, whitespace split, `▁` word marks (as T5), `<unk>`, `A </s>`."""

    model = BPE
    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    special_defaults = {"pad_token": "<pad>", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}

    def __init__(self, vocab: str | dict[str, int] | None = None, merges: str | list | None = None, **kwargs: Any) -> None:
        if vocab is None:
            vocab = {token: i for i, token in enumerate(self.training_special_tokens())}
        vocab, merges = _bpe_data(vocab, merges)
        unk = str(kwargs.get("unk_token", self.special_defaults["unk_token"]))
        if unk not in vocab:
            raise ValueError(f"BPE vocabulary has no unknown token {unk!r}; it is needed for unseen characters")
        self._tokenizer = Tokenizer(_bpe(vocab, merges, unk_token=unk, fuse_unk=True))
        self._tokenizer.normalizer = normalizers.NFKC()
        self._tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="always")]
        )
        self._tokenizer.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="always")
        super().__init__(**kwargs)

    def _template(self) -> processors.PostProcessor:
        eos = self._tid(self.eos_token)
        return processors.TemplateProcessing(single=f"$A {eos[0]}", pair=f"$A {eos[0]} $B {eos[0]}", special_tokens=[eos])


class HfvGPTTokenizer(HfvTokenizerBase):
    """GPT-1 (as native OpenAIGPTTokenizer): BPE with `</w>` word ends over BERT's lower-casing normaliser and
    pre-tokeniser; `<unk>` only, no template. Padding reuses `<unk>` (GPT-1 has no pad token), so the ids of any
    text equal the native tokenizer's built from the same vocab.json + merges.txt."""

    model = BPE
    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt", "tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    special_defaults = {"unk_token": "<unk>", "pad_token": "<unk>"}
    # Passed to the BPE trainer by train_tokenizer: learn merges of words that end in `</w>`.
    trainer_options = {"end_of_word_suffix": "</w>"}

    def __init__(self, vocab: str | dict[str, int] | None = None, merges: str | list | None = None, **kwargs: Any) -> None:
        if vocab is None:
            vocab = {token: i for i, token in enumerate(self.training_special_tokens())}
        vocab, merges = _bpe_data(vocab, merges)
        # A vocabulary without `<unk>` gets it appended as an added token, as the native tokenizer does.
        unk = str(kwargs.get("unk_token", self.special_defaults["unk_token"]))
        self._tokenizer = Tokenizer(
            _bpe(vocab, merges, continuing_subword_prefix="", end_of_word_suffix="</w>", fuse_unk=False, unk_token=unk)
        )
        self._tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
        self._tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        self._tokenizer.decoder = decoders.BPEDecoder(suffix="</w>")
        super().__init__(**kwargs)

    @property
    def do_lower_case(self) -> bool:
        return True


class HfvRNNTokenizer(HfvTransformerTokenizer):
    """The RNN encoder-decoder baseline: the Transformer's plain BPE (`A </s>`)."""


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
        **kwargs: Any,
    ) -> None:
        if vocab is None:
            vocab = {t: i for i, t in enumerate(self.training_special_tokens() + BYTE_TOKENS)}
        vocab, merges = _bpe_data(vocab, merges)
        self._tokenizer = Tokenizer(_bpe(vocab, merges, fuse_unk=True, byte_fallback=True))
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


class HfvLlamaTokenizer(HfvByteFallbackBPETokenizer):
    """LLaMA: byte-fallback BPE, `<s>` prepended, left padding with `</s>` as the pad token."""


class HfvMistralTokenizer(HfvByteFallbackBPETokenizer):
    """Mistral: the LLaMA tokenizer."""


class HfvMixtralTokenizer(HfvByteFallbackBPETokenizer):
    """Mixtral: the LLaMA tokenizer."""


# --- Unigram (ALBERT, T5, Switch) ----------------------------------------------------------------------------------


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
        if _spm_precompiled_charsmap:
            steps.append(normalizers.Precompiled(_spm_precompiled_charsmap))
        elif nfkc:
            steps.append(normalizers.NFKC())
        self._tokenizer.normalizer = normalizers.Sequence(steps) if steps else None
        scheme = "always" if add_prefix_space else "never"
        self._tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)]
        )
        self._tokenizer.decoder = decoders.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme)
        super().__init__(nfkc=nfkc, add_prefix_space=add_prefix_space, **kwargs)

    def _normalizers(self, kwargs: dict[str, Any]) -> list[normalizers.Normalizer]:
        return []


class HfvAlbertTokenizer(HfvUnigramTokenizer):
    """ALBERT: lower-cased, accents stripped, `[CLS] A [SEP] B [SEP]` with token types for SOP."""

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    special_defaults = {
        "pad_token": "<pad>",
        "unk_token": "<unk>",
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "mask_token": "[MASK]",
        "bos_token": "[CLS]",
        "eos_token": "[SEP]",
    }

    def _normalizers(self, kwargs: dict[str, Any]) -> list[normalizers.Normalizer]:
        self.do_lower_case = kwargs.setdefault("do_lower_case", True)
        self.keep_accents = kwargs.setdefault("keep_accents", False)
        steps = [normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
        if not self.keep_accents:
            steps += [normalizers.NFKD(), normalizers.StripAccents()]
        if self.do_lower_case:
            steps.append(normalizers.Lowercase())
        return steps

    def _template(self) -> processors.PostProcessor:
        return self._cls_sep_template()


class HfvT5Tokenizer(HfvUnigramTokenizer):
    """T5: `A </s>`, and `extra_ids` sentinel tokens `<extra_id_0>`... (id of `<extra_id_0>` is the last one)."""

    special_defaults = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}

    def __init__(self, vocab: Any = None, extra_ids: int = 100, **kwargs: Any) -> None:
        kwargs["extra_special_tokens"] = _with_sentinels(kwargs, extra_ids, reverse=True)
        super().__init__(vocab, extra_ids=extra_ids, **kwargs)

    def _template(self) -> processors.PostProcessor:
        eos = self._tid(self.eos_token)
        return processors.TemplateProcessing(single=f"$A {eos[0]}", pair=f"$A {eos[0]} $B {eos[0]}", special_tokens=[eos])

    def get_sentinel_tokens(self) -> list[str]:
        """The `<extra_id_N>` tokens used by span corruption."""
        return sorted((t for t in map(str, self.extra_special_tokens) if t.startswith("<extra_id_")), key=_sentinel_index)

    def get_sentinel_token_ids(self) -> list[int]:
        return self.convert_tokens_to_ids(self.get_sentinel_tokens())


def _with_sentinels(kwargs: dict[str, Any], extra_ids: int, reverse: bool) -> list[Any]:
    """Extra special tokens plus `extra_ids` `<extra_id_N>` sentinels, unless they are already there (reload)."""
    extra = list(kwargs.pop("additional_special_tokens", None) or [])
    extra += [t for t in kwargs.pop("extra_special_tokens", None) or [] if str(t) not in map(str, extra)]
    if extra_ids and not any(str(t).startswith("<extra_id_") for t in extra):
        order = reversed(range(extra_ids)) if reverse else range(extra_ids)
        extra += [AddedToken(f"<extra_id_{i}>", special=True, normalized=False) for i in order]
    return extra


def _sentinel_index(token: str) -> int:
    return int(token[len("<extra_id_") : -1])


class HfvSwitchTokenizer(HfvT5Tokenizer):
    """Switch Transformers: the T5 tokenizer."""


# --- Raw bytes (ByT5) ------------------------------------------------------------------------------------------------


class HfvByT5Tokenizer(HfvTokenizerBase):
    """ByT5: id = UTF-8 byte + 3 after `<pad>`, `</s>`, `<unk>`, then `<extra_id_N>`; Rust-backed, same ids as ByT5Tokenizer.

    Built as a merge-free BPE whose vocabulary holds only the 256 byte tokens, so every character falls back to its
    UTF-8 bytes. Decoding drops invalid UTF-8 (as ByT5Tokenizer's `errors="ignore"`) instead of inserting U+FFFD.
    """

    model = BPE
    vocab_files_names = {"tokenizer_file": "tokenizer.json"}
    model_input_names = ["input_ids", "attention_mask"]
    special_defaults = {
        "pad_token": AddedToken("<pad>", lstrip=True, rstrip=True, special=True),
        "eos_token": AddedToken("</s>", lstrip=True, rstrip=True, special=True),
        "unk_token": AddedToken("<unk>", lstrip=True, rstrip=True, special=True),
    }
    offset = 3

    def __init__(self, extra_ids: int = 125, **kwargs: Any) -> None:
        kwargs.pop("vocab", None)
        kwargs.pop("merges", None)
        vocab = {t: i for i, t in enumerate(self.training_special_tokens() + BYTE_TOKENS)}
        self._tokenizer = Tokenizer(BPE(vocab=vocab, merges=[], byte_fallback=True, fuse_unk=False, dropout=None))
        self._tokenizer.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
        kwargs["extra_special_tokens"] = _with_sentinels(kwargs, extra_ids, reverse=False)
        super().__init__(extra_ids=extra_ids, **kwargs)

    def _template(self) -> processors.PostProcessor:
        eos = self._tid(self.eos_token)
        return processors.TemplateProcessing(single=f"$A {eos[0]}", pair=f"$A {eos[0]} $B {eos[0]}", special_tokens=[eos])

    def _decode(self, token_ids: int | list[int], skip_special_tokens: bool = False, **kwargs: Any) -> str:
        text = super()._decode(token_ids, skip_special_tokens=skip_special_tokens, **kwargs)
        if "\ufffd" not in text:
            return text
        # Invalid UTF-8 somewhere: redo it in Python to drop the bad bytes exactly like ByT5Tokenizer.
        ids = [token_ids] if isinstance(token_ids, int) else list(token_ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        out = bytearray()
        for i in ids:
            if i in skip:
                continue
            if self.offset <= i < self.offset + 256:
                out.append(i - self.offset)
            elif (token := self._tokenizer.id_to_token(i)) is not None:
                out += token.encode("utf-8")
        return out.decode("utf-8", errors="ignore")
