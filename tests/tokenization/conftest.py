"""Shared tiny corpora and probe texts for the tokenizer tests (generated here; no network)."""

from __future__ import annotations

import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = (
    "the quick brown fox jumps over lazy dog and then runs away into forest while birds sing "
    "Héllo café naïve résumé Zürich Ångström São Paulo Москва привет мир Ελλάδα "
    "日本語 東京 中文 汉字 한국어 😀 🎉 🚀 don't it's 3.14159 2024 user@example.com"
).split()

# Multilingual probes: accents, CJK, emoji (incl. ZWJ sequence), whitespace runs, tabs, newlines, rare characters.
PROBES = [
    "The quick brown fox jumps over the lazy dog.",
    "Héllo wörld, café naïve résumé — ÅNGSTRÖM!",
    "日本語のテキストです。中文文本，한국어 텍스트.",
    "Emoji 😀🎉 family 👨‍👩‍👧 flags 🇫🇷 ok",
    "multiple   spaces\tand\ttabs\nand newlines  ",
    "  leading and trailing spaces  ",
    "Numbers 12345 and 3.14159, symbols @#$%^&*() ``quotes'' don't",
    "Rare: ǅ ﬁ ⅷ ＡＢＣ ① Ω ℃ \u00a0nbsp",
    "",
]

PAIRS = [("How are you?", "Fine, thanks — and you?"), ("日本", "😀 x")]


def make_corpus(n_lines: int = 1500, seed: int = 0) -> list[str]:
    """Random sentences over WORDS plus the probes, so every probe character is seen in training."""
    rng = random.Random(seed)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) for _ in range(n_lines)]
    return lines + [p for p in PROBES if p] * 3


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return make_corpus()
