"""Per-example noise seeds, so that masking and corruption do not depend on the global RNG.

The Trainer's dataloader (accelerate's `DataLoaderShard`) collates one batch ahead, so a checkpoint's saved RNG
state already includes the next batch's draws; a collator drawing from the global RNG therefore gets other noise
after `--resume` than in the uninterrupted run. Instead, `NoiseSeededDataset` gives every example a `noise_seed`
derived from (run seed, split, epoch, example index), and the collators (`MaskedLMCollator`,
`SpanCorruptionCollator`, `DenoisingCollator`) draw each example's noise from a generator seeded with it. Noise is
then a function of the data order alone: equal across prefetching, resumption, batch size and data-loader workers,
and fresh in every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import TrainerCallback

NOISE_SEED = "noise_seed"
TRAIN_SPLIT, EVAL_SPLIT = 0, 1


def example_noise_seed(seed: int, split: int, epoch: int, index: int) -> int:
    """A 63-bit seed (valid for `torch.Generator.manual_seed` and numpy) for one example's noise."""
    words = [int(seed) % 2**64, int(split), int(epoch), int(index)]
    return int(np.random.SeedSequence(words).generate_state(1, np.uint64)[0] >> np.uint64(1))


class NoiseSeededDataset(torch.utils.data.Dataset):
    """`dataset` whose examples (mappings) gain a `noise_seed` key; `set_epoch` (called by the Trainer's
    dataloader and by `NoiseEpochCallback`) moves to the next epoch's seeds."""

    def __init__(self, dataset: Any, seed: int, split: int = TRAIN_SPLIT):
        self.dataset, self.seed, self.split, self.epoch = dataset, int(seed), int(split), 0

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _keyed(self, example: Mapping[str, Any], index: int) -> dict[str, Any]:
        if not isinstance(example, Mapping):
            raise TypeError(f"example {index} is a {type(example).__name__}; noise seeds need mapping examples")
        return {**example, NOISE_SEED: example_noise_seed(self.seed, self.split, self.epoch, index)}

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._keyed(self.dataset[index], int(index))

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        batch = getattr(self.dataset, "__getitems__", None)
        rows = batch(list(indices)) if batch is not None else [self.dataset[i] for i in indices]
        return [self._keyed(row, int(i)) for row, i in zip(rows, indices)]


def split_noise_seeds(examples: Sequence[Any]) -> tuple[list[Any], list[int] | None]:
    """(examples without their `noise_seed` key, the seeds) — seeds None unless every example carries one."""
    if not examples or not all(isinstance(e, Mapping) and NOISE_SEED in e for e in examples):
        return list(examples), None
    seeds = [int(e[NOISE_SEED]) for e in examples]
    return [{k: v for k, v in e.items() if k != NOISE_SEED} for e in examples], seeds


def torch_generator(noise_seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(noise_seed)


def numpy_generator(noise_seed: int) -> np.random.Generator:
    return np.random.default_rng(noise_seed)


def uses_noise_seeds(collator: Any) -> bool:
    """Whether `collator` reads per-example `noise_seed` keys (the datasets it collates should then carry them)."""
    return bool(getattr(collator, "reads_noise_seeds", False))


class NoiseEpochCallback(TrainerCallback):
    """Sets the epoch of a `NoiseSeededDataset` at each epoch start, from the Trainer's state: also right after a
    mid-epoch `--resume`, where accelerate's skipping dataloader does not pass the epoch on to the dataset."""

    def __init__(self, dataset: NoiseSeededDataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.dataset.set_epoch(int(state.epoch or 0))
