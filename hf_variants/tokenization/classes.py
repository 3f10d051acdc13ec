"""The per-variant tokenizer classes: each sets its special tokens and templates on one algorithm class
(`wordpiece`, `bpe`, `unigram`; all derive from `base.HfvTokenizerBase`). The plain BPE (Transformer, GPT) and
byte (ByT5) tokenizers are defined here whole.

Every class is a `TokenizersBackend` (Rust-backed) that builds its whole pipeline in `__init__` from `vocab` (and
`merges`), because transformers 5 rebuilds tokenizers from those on load rather than trusting `tokenizer.json`.
The pipelines follow the native transformers tokenizers so that ids, offsets and decoding agree with them.
"""

from __future__ import annotations

from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import BPE

from .base import BYTE_TOKENS, SPIECE_UNDERLINE, HfvTokenizerBase
from .bpe import HfvByteFallbackBPETokenizer, HfvByteLevelBPETokenizer, _bpe, _bpe_data
from .chat import DEFAULT_CHAT_TEMPLATE
from .unigram import HfvUnigramTokenizer
from .wordpiece import HfvWordPieceTokenizer


class HfvBertTokenizer(HfvWordPieceTokenizer):
    """BERT: WordPiece, lower-cased, token types for NSP."""


class HfvElectraTokenizer(HfvWordPieceTokenizer):
    """ELECTRA: the BERT tokenizer."""


class HfvDistilBertTokenizer(HfvWordPieceTokenizer):
    """DistilBERT: the BERT tokenizer without token type ids (the model has no segment embeddings)."""

    model_input_names = ["input_ids", "attention_mask"]


# --- BPE: plain (Transformer), byte-level (GPT-2, RoBERTa, BART), byte fallback (LLaMA family) -------------------


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


class HfvLlamaTokenizer(HfvByteFallbackBPETokenizer):
    """LLaMA: byte-fallback BPE, `<s>` prepended, left padding with `</s>` as the pad token."""


class HfvMistralTokenizer(HfvByteFallbackBPETokenizer):
    """Mistral: the LLaMA tokenizer."""


class HfvMixtralTokenizer(HfvByteFallbackBPETokenizer):
    """Mixtral: the LLaMA tokenizer."""


# --- Unigram (ALBERT, T5, Switch) ----------------------------------------------------------------------------------


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
