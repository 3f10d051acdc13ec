"""A SentencePiece model's own normaliser spec, read from its `.model` and rebuilt with `tokenizers` steps.

SentencePiece normalises a sentence as: the precompiled charsmap (the `nmt_nfkc`/`nfkc` rule; `identity` has
none), then, if `remove_extra_whitespaces`, strip leading/trailing spaces (and trailing `▁`) and collapse runs of
spaces (tabs and other whitespace are ordinary characters unless the charsmap maps them to spaces), then
`escape_whitespaces` (space -> `▁`), then the dummy prefix (`▁` before every non-empty sentence, even one already
starting with `▁`). The Unigram/BPE model then runs over the whole sentence, without splitting at whitespace. This
follows transformers' `SpmConverter.build_tokenizer_from_spm_proto` (5.24; 5.23 lacks it), with escaping and the
prefix in a `Metaspace` pre-tokenizer so that offsets stay those of native transformers tokenizers.

Known difference (tokenizers' `Precompiled`, which native transformers tokenizers share): a combining mark right
after a character the charsmap rewrites, in a grapheme under 6 bytes (e.g. U+0301 after "ｅ" or "ﬁ"), is dropped,
where SentencePiece keeps it.
"""

from __future__ import annotations

from typing import Any

from tokenizers import Regex, decoders, normalizers, pre_tokenizers

from .base import SPIECE_UNDERLINE

# The fields of `ModelProto.normalizer_spec` that shape ids, with SentencePiece's defaults.
# `split_by_whitespace` (from `trainer_spec`): no piece holds a `▁` after its start, so splitting before each `▁`
# gives the same ids (and native transformers' per-word offsets).
SPEC_FIELDS = {"name": "nmt_nfkc", "add_dummy_prefix": True, "remove_extra_whitespaces": True,
               "escape_whitespaces": True, "split_by_whitespace": True}


def read_normalizer_spec(proto: Any, path: str) -> dict[str, Any]:
    """The normaliser settings of a parsed SentencePiece `ModelProto` (charsmap excluded: it travels separately)."""
    if proto.trainer_spec.treat_whitespace_as_suffix:
        raise ValueError(f"SentencePiece model {path!r} sets trainer_spec.treat_whitespace_as_suffix=True (the word "
                         "mark after words), which hf_variants tokenizers do not reproduce; allowed: False")
    spec = proto.normalizer_spec
    fields = {name: getattr(spec, name) for name in SPEC_FIELDS if name != "split_by_whitespace"}
    return {**fields, "split_by_whitespace": proto.trainer_spec.split_by_whitespace}


def check_normalizer_spec(spec: Any) -> dict[str, Any]:
    """`spec` as a dict of `SPEC_FIELDS`, or a ValueError naming the unknown or ill-typed key."""
    if not isinstance(spec, dict):
        raise TypeError(f"spm_normalizer must be a dict with keys {sorted(SPEC_FIELDS)}, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(SPEC_FIELDS))
    if unknown:
        raise ValueError(f"spm_normalizer has unknown keys {unknown}; allowed: {sorted(SPEC_FIELDS)}")
    spec = {**SPEC_FIELDS, **spec}
    for name, default in SPEC_FIELDS.items():
        if not isinstance(spec[name], type(default)):
            raise TypeError(f"spm_normalizer[{name!r}]={spec[name]!r} must be a {type(default).__name__}")
    return spec


def splits_words(spec: dict[str, Any], split: bool) -> bool:
    """Whether to split at spaces before the model (native T5/ALBERT offsets): only where it cannot change ids, i.e.
    pieces never hold an inner `▁`, no run of spaces survives normalisation and every word gets the `▁` prefix."""
    return split and spec["split_by_whitespace"] and spec["remove_extra_whitespaces"] and spec["add_dummy_prefix"] \
        and spec["escape_whitespaces"]


def build_normalizer(spec: dict[str, Any], charsmap: bytes | None, split: bool) -> normalizers.Normalizer:
    """SentencePiece's normalisation of one sentence, up to whitespace escaping (see `build_pre_tokenizer`)."""
    steps: list[normalizers.Normalizer] = []
    if charsmap:
        precompiled = normalizers.Precompiled(charsmap)
        # `Precompiled` maps a short grapheme by its first character's entry alone, so "\r\n" (one grapheme)
        # loses its "\n"; SentencePiece maps each character. Map the pair as SentencePiece does, first.
        crlf = precompiled.normalize_str("\r") + precompiled.normalize_str("\n")
        if crlf != "\r\n":
            steps.append(normalizers.Replace("\r\n", crlf))
        steps.append(precompiled)
    if spec["remove_extra_whitespaces"]:  # only spaces count, as in SentencePiece, and at the end also a `▁`
        trailing = r"[ ▁]+\z" if spec["escape_whitespaces"] else r" +\z"
        steps += [normalizers.Replace(Regex(r"\A +|" + trailing), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    if spec["add_dummy_prefix"]:
        if splits_words(spec, split):  # Metaspace skips its prefix on a word already starting with `▁`
            steps.append(normalizers.Replace(Regex("(?<![^ ])▁"), "▁▁"))
        elif spec["escape_whitespaces"]:  # ... and on a sentence starting with `▁` or a space; SentencePiece doesn't
            steps += [normalizers.Replace(Regex(r"\A▁"), "▁▁"), normalizers.Replace(Regex(r"\A "), "▁ ")]
        else:
            steps.append(normalizers.Prepend(" "))  # Prepend leaves an empty sentence empty, as SentencePiece does
    return normalizers.Sequence(steps)


def build_pre_tokenizer(spec: dict[str, Any], split: bool) -> pre_tokenizers.PreTokenizer | None:
    """Spaces to `▁` and the dummy prefix (a `Metaspace` step rather than a normaliser `Replace`, so that offsets
    match native transformers tokenizers); split at spaces where `splits_words` allows (Unigram, as native T5/ALBERT),
    else the model sees the whole sentence (BPE, as native LLaMA)."""
    if not spec["escape_whitespaces"]:
        return None
    if splits_words(spec, split):
        return pre_tokenizers.Sequence([
            pre_tokenizers.Split(" ", behavior="removed"),
            pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme="always", split=True),
        ])
    scheme = "always" if spec["add_dummy_prefix"] else "never"
    return pre_tokenizers.Metaspace(replacement=SPIECE_UNDERLINE, prepend_scheme=scheme, split=False)


def build_decoder(spec: dict[str, Any], byte_fallback: bool) -> decoders.Decoder:
    """SentencePiece's decoding: `▁` back to spaces, bytes fused, the dummy prefix's space dropped."""
    steps: list[decoders.Decoder] = [decoders.Replace(SPIECE_UNDERLINE, " ")]
    if byte_fallback:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if spec["add_dummy_prefix"]:
        steps.append(decoders.Strip(content=" ", left=1))
    return decoders.Sequence(steps)
