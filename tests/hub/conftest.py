"""Saved tiny checkpoints (model + trained tokenizer) of every variant, shared by the hub tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import transformers

import hf_variants
from hf_variants.tokenization import train_tokenizer

from ..tokenization.conftest import make_corpus
from ..variant_configs import TEST_VARIANTS, tiny_config

MAIN_HEAD = {"encoder": "AutoModelForMaskedLM", "decoder": "AutoModelForCausalLM",
             "encoder-decoder": "AutoModelForSeq2SeqLM"}


def save_checkpoint(name: str, path: Path, corpus: list[str], **save_kwargs) -> Path:
    """A tiny randomly initialised model of variant `name` with a tokenizer trained on `corpus`, saved to `path`."""
    tok = train_tokenizer(name, corpus, vocab_size=400, show_progress=False)
    # Native Mixtral's grouped_mm needs 16-byte-aligned expert strides: intermediate 32, not the tiny 37.
    sizes = {"intermediate_size": 32} if name == "mixtral" else {}
    config = tiny_config(name, vocab_size=max(len(tok), 99), **sizes)
    torch.manual_seed(0)
    family = hf_variants.VARIANTS[name].family
    model = getattr(transformers, MAIN_HEAD[family]).from_config(config)
    model.save_pretrained(path, **save_kwargs)
    tok.save_pretrained(path, **save_kwargs)
    return path


def job(name: str, path: Path, remote: bool, output: Path | None = None) -> dict:
    family = hf_variants.VARIANTS[name].family
    return {"path": str(path), "auto_class": MAIN_HEAD[family], "family": family, "remote": remote,
            "generate": family != "encoder", "output": str(output) if output else None}


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    """variant name -> folder saved with `save_pretrained` (remote code included by default)."""
    root = tmp_path_factory.mktemp("checkpoints")
    corpus = make_corpus(400)
    return {name: save_checkpoint(name, root / name, corpus) for name in TEST_VARIANTS}
