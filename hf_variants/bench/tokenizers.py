"""Encode throughput of our tokenizers vs the native transformers classes on the same vocabulary.

Each case builds both tokenizers from the same files, encodes one batch of lines (10k; 2k with quick=True) with
the same call, alternating ours/native, and reports medians; ratio = ours_s / native_s (< 1: ours is faster),
speedup = native_s / ours_s, min_ratio = ratio of the fastest runs. Runs offline: the text is generated and vocabularies are trained on the spot.
"""

from __future__ import annotations

import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import transformers

from hf_variants.tokenization import tokenizer_from_files, train_tokenizer
from hf_variants.tokenization.classes import HfvByT5Tokenizer

_WORDS = (
    "the of and to a in that is was he for it with as his on be at by had not are but from or have an they which "
    "one you were her all she there would their we him been has when who will more no if out so said what up its "
    "about into than them can only other new some could time these two may then do first any my now such like our "
    "over man me even most made after also did many before must through back years where much your way well down "
    "Héllo café naïve résumé Zürich São привет мир Ελλάδα 日本語 東京 中文 한국어 😀 🎉 3.14 2024 don't it's"
).split()


def make_lines(n: int, seed: int = 0) -> list[str]:
    """Deterministic sentences of 5-30 words: common words, 3000 pseudo-words from syllables (Zipf-distributed,
    so subword vocabularies have real work to do) and some multilingual text."""
    rng = random.Random(12345)
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ou", "ai", "é")]
    vocab = _WORDS + ["".join(rng.choices(syllables, k=rng.randint(1, 4))) for _ in range(3000)]
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(len(vocab))]
    rng = random.Random(seed)
    return [" ".join(rng.choices(vocab, weights, k=rng.randint(5, 30))) for _ in range(n)]


def _spm(lines: list[str], path: Path, **options: Any) -> Path:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_prefix=str(path.with_suffix("")), character_coverage=1.0, minloglevel=2, **options
    )
    return path


def _pair_from_spm(variant: str, native: type, model: Path, file_name: str, **native_kwargs: Any) -> tuple[Any, Any]:
    folder = model.parent / f"{variant}_native"
    folder.mkdir()
    (folder / file_name).write_bytes(model.read_bytes())
    return tokenizer_from_files(variant, model), native.from_pretrained(folder, **native_kwargs)


def _cases(root: Path, train_lines: list[str]) -> dict[str, Callable[[], tuple[Any, Any]]]:
    """kind -> builder of (ours, native) on the same vocabulary."""

    def trained_files(variant: str, native: type, names: tuple[str, ...]) -> tuple[Any, Any]:
        folder = root / variant
        train_tokenizer(variant, train_lines, vocab_size=8000, show_progress=False).save_pretrained(folder)
        files = root / f"{variant}_files"
        files.mkdir()
        for name in names:
            (files / name).write_bytes((folder / name).read_bytes())
        return tokenizer_from_files(variant, *(files / n for n in names)), native.from_pretrained(files)

    unigram = dict(model_type="unigram", vocab_size=8000, hard_vocab_limit=False)
    return {
        "wordpiece (bert)": lambda: trained_files("bert", transformers.BertTokenizer, ("vocab.txt",)),
        "byte-level-bpe (roberta)": lambda: trained_files(
            "roberta", transformers.RobertaTokenizer, ("vocab.json", "merges.txt")
        ),
        "byte-level-bpe (gpt2)": lambda: trained_files("gpt2", transformers.GPT2Tokenizer, ("vocab.json", "merges.txt")),
        "unigram (t5)": lambda: _pair_from_spm(
            "t5", transformers.T5Tokenizer, _spm(train_lines, root / "t5.model", pad_id=0, eos_id=1, unk_id=2, bos_id=-1, **unigram),
            "spiece.model",
        ),
        "unigram (albert)": lambda: _pair_from_spm(
            "albert", transformers.AlbertTokenizer,
            _spm(train_lines, root / "albert.model", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
                 control_symbols=["[CLS]", "[SEP]", "[MASK]"], **unigram),
            "spiece.model",
        ),
        "bpe-byte-fallback (llama)": lambda: _pair_from_spm(
            "llama", transformers.LlamaTokenizer,
            _spm(train_lines, root / "llama.model", model_type="bpe", vocab_size=8000, byte_fallback=True, hard_vocab_limit=False,
                 unk_id=0, bos_id=1, eos_id=2, pad_id=-1),
            "tokenizer.model", add_bos_token=True,
        ),
        "bytes (byt5)": lambda: (HfvByT5Tokenizer(), transformers.ByT5Tokenizer()),
    }


def _time(tokenizer: Any, lines: list[str], type_ids: bool) -> float:
    gc.collect()  # garbage from the previous run would otherwise be collected inside this one
    start = time.perf_counter()
    tokenizer(lines, return_token_type_ids=type_ids)  # same outputs on both sides
    return time.perf_counter() - start


def run(quick: bool = False) -> list[dict]:
    """Benchmark every tokenizer kind; returns one row per case."""
    n_lines, repeats = (2_000, 3) if quick else (10_000, 7)
    lines = make_lines(n_lines, seed=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, build in _cases(Path(tmp), make_lines(20_000, seed=0)).items():
            try:
                ours, native = build()
            except ImportError as err:  # sentencepiece missing: skip the SentencePiece cases
                print(f"  {case}: skipped ({err})")
                continue
            assert ours(lines[:200]).input_ids == native(lines[:200]).input_ids, f"{case}: ids differ"
            type_ids = "token_type_ids" in ours.model_input_names
            _time(ours, lines[:100], type_ids), _time(native, lines[:100], type_ids)  # warm-up
            ours_t, native_t = [], []
            for _ in range(repeats):
                ours_t.append(_time(ours, lines, type_ids))
                native_t.append(_time(native, lines, type_ids))
            o, n = statistics.median(ours_t), statistics.median(native_t)
            best = min(ours_t) / min(native_t)  # less sensitive to other load on the machine than the medians
            row = {"benchmark": "tokenizer", "kind": case.split(" ")[0], "case": case, "lines": n_lines,
                   "ours_s": round(o, 4), "native_s": round(n, 4), "ratio": round(o / n, 3), "speedup": round(n / o, 2),
                   "min_ratio": round(best, 3)}
            print(f"  {case}: ours {o:.4f}s native {n:.4f}s ratio {o / n:.3f} (of minima {best:.3f})", flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
