"""Padding and noise generators shared by the seq2seq collators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def pad_rows(rows: Sequence[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token lists with `value`; returns (ids, mask of real tokens)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def batch_rng(seeded: np.random.Generator | None) -> np.random.Generator:
    """The generator for one batch's noise when its examples carry no `noise_seed` (see `objectives.noise`): the
    collator's own when it was given a seed, else one drawn from torch's global RNG."""
    if seeded is not None:
        return seeded
    return np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
