"""Calling a dropout module only where it can drop something."""

from __future__ import annotations

import torch
from torch import nn


def train_dropout(dropout: nn.Module, hidden: torch.Tensor, training: bool) -> torch.Tensor:
    """`dropout(hidden)` in training with a rate above 0, else `hidden` unchanged. Skipping the call is exact: in eval
    and at p=0 a dropout returns its input and draws no random numbers (the RNG stream is unchanged). It saves a
    module call per sublayer per forward, which LLaMA-style models (no dropout at all natively) otherwise pay on every
    training step. `nn.Identity` (a sublayer without output dropout) has no rate and is skipped too."""
    return dropout(hidden) if training and getattr(dropout, "p", 0.0) > 0 else hidden
