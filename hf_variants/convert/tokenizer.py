"""The native transformers tokenizer of a converted checkpoint, checked to behave exactly like ours.

`hfv convert --to native` must give a folder that plain transformers loads and uses identically: the same ids, token
types (BERT pairs), padding side (LLaMA pads left), special tokens and decoding. The variant's native class
(`BertTokenizer`, `LlamaTokenizer`, ...) is built from our vocabulary and special tokens; when a native class cannot
express our pipeline (a Unigram vocabulary trained with `tokenizers` has NFKC normalisation that `T5Tokenizer` only
takes from a SentencePiece `.model` file), the `tokenizer.json` pipeline is written for transformers' generic
`TokenizersBackend` instead. Each candidate is saved, reloaded with `AutoTokenizer` and compared; a ValueError lists
the differences when none matches.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer, TokenizersBackend

# variant -> the transformers tokenizer class of its native model (the one AutoTokenizer picks for it).
NATIVE_TOKENIZERS = {
    "bert": "BertTokenizer", "electra": "ElectraTokenizer", "distilbert": "DistilBertTokenizer",
    "roberta": "RobertaTokenizer", "bart": "BartTokenizer", "gpt2": "GPT2Tokenizer",
    "albert": "AlbertTokenizer", "t5": "T5Tokenizer", "switch": "T5Tokenizer",
    "llama": "LlamaTokenizer", "mistral": "LlamaTokenizer", "mixtral": "LlamaTokenizer", "byt5": "ByT5Tokenizer",
    "gpt": "OpenAIGPTTokenizer",
}
PROBES = ["The quick brown fox, don't stop!", "Héllo wörld — café naïve", "日本語 中文 한국어 😀 🎉",
          "  spaces\tand\ttabs\n", "Rare: ǅ ﬁ ⅷ ＡＢＣ ① ℃", ""]
PAIRS = [("How are you?", "Fine, thanks — and you?"), ("A short one", "and a longer second segment here")]


def _native_class_candidate(ours: Any, class_name: str) -> Any:
    cls = getattr(transformers, class_name)
    model = json.loads(ours.backend_tokenizer.to_str())["model"]
    params = inspect.signature(cls.__init__).parameters
    data: dict[str, Any] = {}
    files = getattr(cls, "vocab_files_names", {})
    if ("vocab" in params or "vocab_file" in files) and model.get("vocab") is not None:
        vocab = model["vocab"]
        data["vocab"] = [tuple(v) for v in vocab] if isinstance(vocab, list) else vocab
    if ("merges" in params or "merges_file" in files) and model.get("merges") is not None:
        data["merges"] = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    common = _common(ours)
    # add_bos_token/add_eos_token reach LLaMA's __init__ through **kwargs.
    options = {k: v for k, v in ours.init_kwargs.items()
               if (k in params or k in ("add_bos_token", "add_eos_token")) and k not in common
               and k not in ("vocab", "merges", "vocab_file", "merges_file", "tokenizer_file")}
    return cls(**data, **options, **common)


def _backend_candidate(ours: Any) -> Any:
    pipeline = Tokenizer.from_str(ours.backend_tokenizer.to_str())
    return TokenizersBackend(tokenizer_object=pipeline, **_common(ours))


def _common(ours: Any) -> dict[str, Any]:
    specials = {k: (v if isinstance(v, list) else str(v)) for k, v in ours.special_tokens_map.items()}
    if ours.extra_special_tokens:
        specials["extra_special_tokens"] = [str(t) for t in ours.extra_special_tokens]
    return {**specials, "model_input_names": list(ours.model_input_names), "padding_side": ours.padding_side}


def tokenizer_differences(ours: Any, theirs: Any) -> list[str]:
    """How `theirs` behaves differently from `ours` on multilingual probes, pairs, batches and decoding."""
    problems = []
    for name in ("padding_side", "model_input_names"):
        if getattr(ours, name) != getattr(theirs, name):
            problems.append(f"{name}: {getattr(ours, name)!r} != {getattr(theirs, name)!r}")
    missing = set(map(str, ours.all_special_tokens)) ^ set(map(str, theirs.all_special_tokens))
    if missing:
        problems.append(f"special tokens differ: {sorted(missing)[:5]}{' ...' if len(missing) > 5 else ''}")
    if len(ours) != len(theirs):
        problems.append(f"vocabulary size {len(ours)} != {len(theirs)}")
    for text in PROBES:
        a, b = ours(text).data, theirs(text).data
        if a != b:
            problems.append(f"encoding of {text!r}")
        elif ours.decode(a["input_ids"]) != theirs.decode(b["input_ids"]):
            problems.append(f"decoding of {text!r}")
    for first, second in PAIRS:
        if ours(first, second).data != theirs(first, second).data:
            problems.append(f"pair encoding of {(first, second)!r}")
    if ours.pad_token is not None and ours(PROBES, padding=True).data != theirs(PROBES, padding=True).data:
        problems.append("padded batch")
    return problems


def save_native_tokenizer(ours: Any, variant: str, destination: str | Path) -> str:
    """Write the native tokenizer of `ours` into `destination` (which holds the native model's config.json), check
    that `AutoTokenizer` reloads it with identical behaviour, and return the class name written."""
    destination = Path(destination)
    tried = []
    candidates = []
    if variant in NATIVE_TOKENIZERS:
        candidates.append((NATIVE_TOKENIZERS[variant], lambda: _native_class_candidate(ours, NATIVE_TOKENIZERS[variant])))
    candidates.append(("TokenizersBackend", lambda: _backend_candidate(ours)))
    for class_name, build in candidates:
        files = build().save_pretrained(destination)
        problems = tokenizer_differences(ours, AutoTokenizer.from_pretrained(destination))
        if not problems:
            return class_name
        tried.append(f"{class_name}: {'; '.join(problems)}")
        for name in files:
            Path(name).unlink(missing_ok=True)
    raise ValueError(f"no native tokenizer behaves like {type(ours).__name__}: " + " | ".join(tried))
