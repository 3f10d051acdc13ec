"""A SentencePiece model's own normaliser spec, read from its `.model` and rebuilt with `tokenizers` steps.

SentencePiece normalises a sentence as: the precompiled charsmap (the `nmt_nfkc`/`nfkc` rule; `identity` has
none), then, if `remove_extra_whitespaces`, strip leading/trailing spaces and collapse runs of spaces (tabs and
other whitespace are ordinary characters unless the charsmap maps them to spaces), then `escape_whitespaces`
(space -> `▁`), then the dummy prefix (`▁` before every non-empty sentence, even one already starting with `▁`).
The Unigram/BPE model then runs over the whole sentence, without splitting at whitespace. This follows
transformers' `SpmConverter.build_tokenizer_from_spm_proto` (5.24), which 5.23 lacks; using `Prepend` instead of
a `Metaspace` pre-tokenizer gives the unconditional dummy prefix without its `\\A▁` workaround.

Known difference (tokenizers' `Precompiled`, which native transformers tokenizers share): a combining mark right
after a character the charsmap rewrites, in a grapheme under 6 bytes (e.g. U+0301 after "ｅ" or "ﬁ"), is dropped,
where SentencePiece keeps it.
"""

from __future__ import annotations

from typing import Any

from tokenizers import Regex, decoders, normalizers

from .base import SPIECE_UNDERLINE

# The fields of `ModelProto.normalizer_spec` that shape ids, with SentencePiece's defaults.
SPEC_FIELDS = {"name": "nmt_nfkc", "add_dummy_prefix": True, "remove_extra_whitespaces": True,
               "escape_whitespaces": True}


def read_normalizer_spec(proto: Any, path: str) -> dict[str, Any]:
    """The normaliser settings of a parsed SentencePiece `ModelProto` (charsmap excluded: it travels separately)."""
    if proto.trainer_spec.treat_whitespace_as_suffix:
        raise ValueError(f"SentencePiece model {path!r} sets trainer_spec.treat_whitespace_as_suffix=True (the word "
                         "mark after words), which hf_variants tokenizers do not reproduce; allowed: False")
    spec = proto.normalizer_spec
    return {name: getattr(spec, name) for name in SPEC_FIELDS}


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


def build_normalizer(spec: dict[str, Any], charsmap: bytes | None) -> normalizers.Normalizer:
    """SentencePiece's normalisation of one sentence, dummy prefix included."""
    steps: list[normalizers.Normalizer] = []
    if charsmap:
        precompiled = normalizers.Precompiled(charsmap)
        # `Precompiled` maps a short grapheme by its first character's entry alone, so "\r\n" (one grapheme)
        # loses its "\n"; SentencePiece maps each character. Map the pair as SentencePiece does, first.
        crlf = precompiled.normalize_str("\r") + precompiled.normalize_str("\n")
        if crlf != "\r\n":
            steps.append(normalizers.Replace("\r\n", crlf))
        steps.append(precompiled)
    if spec["remove_extra_whitespaces"]:  # only spaces count, as in SentencePiece
        steps += [normalizers.Replace(Regex(r"\A +| +\z"), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    space = SPIECE_UNDERLINE if spec["escape_whitespaces"] else " "
    if spec["escape_whitespaces"]:
        steps.append(normalizers.Replace(" ", SPIECE_UNDERLINE))
    if spec["add_dummy_prefix"]:
        steps.append(normalizers.Prepend(space))  # Prepend leaves an empty sentence empty, as SentencePiece does
    return normalizers.Sequence(steps)


def build_decoder(spec: dict[str, Any], byte_fallback: bool) -> decoders.Decoder:
    """SentencePiece's decoding: `▁` back to spaces, bytes fused, the dummy prefix's space dropped."""
    steps: list[decoders.Decoder] = [decoders.Replace(SPIECE_UNDERLINE, " ")]
    if byte_fallback:
        steps.append(decoders.ByteFallback())
    steps.append(decoders.Fuse())
    if spec["add_dummy_prefix"]:
        steps.append(decoders.Strip(content=" ", left=1))
    return decoders.Sequence(steps)
