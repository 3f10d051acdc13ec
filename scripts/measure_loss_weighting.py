"""Measure what docs/training_fidelity.md reports: one Trainer step with 4 accumulation steps of 2 rows (3, 7, 17, 13
labelled tokens) against the full-batch token-mean gradient, for our models and their native counterparts on the
same weights. Prints, per head, the relative L2 distance |update + g| / |g| and the ratio |update| / |g|.

Run from the repository root: `python scripts/measure_loss_weighting.py`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hf_variants.convert import to_native  # noqa: E402
from tests.training.loss_cases import TRAINER_CASES, build, global_batch, gradients, stack  # noqa: E402
from tests.training.trainer_step import trainer_update  # noqa: E402


def _distance(update: dict[str, torch.Tensor], gradient: dict[str, torch.Tensor]) -> tuple[float, float]:
    flat_update = torch.cat([update[n].flatten() for n in gradient])
    flat_gradient = torch.cat([gradient[n].flatten() for n in gradient])
    return float((flat_update + flat_gradient).norm() / flat_gradient.norm()), \
        float(flat_update.norm() / flat_gradient.norm())


def _full_batch_gradients(model) -> dict[str, torch.Tensor]:
    """Gradients of the model's own full-batch loss (a token mean for every head here, ours and native)."""
    model.train().zero_grad()
    model(**stack(global_batch_for(model))).loss.backward()
    result = gradients(model)
    model.zero_grad()
    return result


def global_batch_for(model):
    return global_batch(model._measure_case, model.config.vocab_size)


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'head':22s} {'ours rel. L2':>13s} {'ours |u|/|g|':>13s} {'native rel. L2':>15s} {'native |u|/|g|':>15s}")
    with tempfile.TemporaryDirectory() as directory:
        for case in TRAINER_CASES:
            results = []
            for model in (build(case), to_native(build(case))):
                model._measure_case = case
                gradient = _full_batch_gradients(model)
                results.append(_distance(trainer_update(case, 2, 4, directory, model=model), gradient))
            ours, native = results
            print(f"{case:22s} {ours[0]:13.2e} {ours[1]:13.3f} {native[0]:15.2e} {native[1]:15.3f}")


if __name__ == "__main__":
    main()
