"""Tokenizers trained on the inline corpus (fast: tiny vocabularies) and tiny model sizes for the objective tests."""

from __future__ import annotations

import pytest
import torch

from hf_variants.tokenization import train_tokenizer

from .corpus import DOCUMENTS

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=160, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _train(name: str, vocab_size: int):
    return train_tokenizer(name, DOCUMENTS * 4, vocab_size=vocab_size, min_frequency=1, show_progress=False)


@pytest.fixture(scope="session")
def bert_tokenizer():
    return _train("bert", 600)


@pytest.fixture(scope="session")
def albert_tokenizer():
    return _train("albert", 400)


@pytest.fixture(scope="session")
def t5_tokenizer():
    return _train("t5", 500)


@pytest.fixture(scope="session")
def bart_tokenizer():
    return _train("bart", 600)


@pytest.fixture(scope="session")
def gpt2_tokenizer():
    return _train("gpt2", 600)


def train_steps(model: torch.nn.Module, batch: dict, steps: int = 25, lr: float = 3e-3) -> tuple[float, float]:
    """Loss on a fixed batch before and after `steps` AdamW steps on it."""
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    first = None
    for _ in range(steps):
        loss = model(**batch).loss
        first = float(loss.detach()) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return first, float(model(**batch).loss)
