"""Checkpoint folders that are complete or refused: loading that names the damaged file and tensor and refuses
missing or unexpected tensors (instead of initialising them at random), saving that leaves no weights of an earlier
save behind, and the choice of the newest complete Trainer checkpoint to resume from."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

from safetensors import safe_open

from .families.weight_files import WEIGHT_PATTERNS, remove_stale_weights, weight_files  # noqa: F401 (re-exported)

# Trainer state that a resumed run needs to continue exactly where it stopped.
RESUME_STATE = ("optimizer.pt", "scheduler.pt", "rng_state.pth")


def damaged_tensor(folder: str | Path) -> str | None:
    """'file: tensor: error' for the first unreadable safetensors file or tensor of `folder` (None when all read)."""
    folder = Path(folder)
    index = folder / "model.safetensors.index.json"
    if index.exists():
        for shard in sorted(set(json.loads(index.read_text()).get("weight_map", {}).values())):
            if not (folder / shard).exists():
                return f"{folder / shard}: missing (listed in {index.name})"
    for path in sorted(folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), "pt") as handle:
                for name in handle.keys():
                    try:
                        handle.get_tensor(name)
                    except Exception as error:  # noqa: BLE001 - reported with the file and tensor
                        return f"{path}: tensor {name!r}: {error}"
        except Exception as error:  # noqa: BLE001 - a damaged header
            return f"{path}: {error}"
    return None


def load_checkpoint(model_class: Any, folder: str | Path, *, new_heads: bool = False, **kwargs: Any):
    """`model_class.from_pretrained(folder, **kwargs)`, refusing (ValueError) missing, unexpected or mismatched
    tensors instead of initialising them at random, and naming the file and tensor of a damaged checkpoint.

    new_heads=True (fine-tuning) accepts new task-head weights and a dropped pretraining head: only tensors of the
    base model (and not its pooler, which MLM checkpoints lack, as in native BERT) must match."""
    try:
        model, info = model_class.from_pretrained(str(folder), output_loading_info=True, **kwargs)
    except Exception as error:
        problem = damaged_tensor(folder)
        if problem is not None:
            raise ValueError(f"damaged checkpoint {problem}") from error
        raise
    prefix = f"{model.base_model_prefix}."

    def must_match(key: str) -> bool:
        return not new_heads or (key.startswith(prefix) and ".pooler." not in f".{key}")

    missing = [k for k in info["missing_keys"] if must_match(k)]
    unexpected = [k for k in info["unexpected_keys"] if must_match(k)]
    mismatched = [k if isinstance(k, str) else k[0] for k in info.get("mismatched_keys", [])]
    if missing or unexpected or mismatched:
        raise ValueError(
            f"{folder} does not match {type(model).__name__}: missing tensors {sorted(missing)[:8]}, unexpected "
            f"{sorted(unexpected)[:8]}, different shapes {sorted(mismatched)[:8]} (refusing to initialise weights at "
            "random; convert or train a matching checkpoint)"
        )
    return model


def checkpoint_tensor_names(folder: str | Path) -> set[str]:
    """Tensor names stored in a checkpoint folder (headers only)."""
    names: set[str] = set()
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(str(path), "pt") as handle:
            names.update(handle.keys())
    return names


def incomplete_reason(checkpoint: Path) -> str | None:
    """Why a Trainer checkpoint folder cannot be resumed from (None when it can): the Trainer writes
    trainer_state.json last, and the weights must read."""
    if not (checkpoint / "trainer_state.json").exists():
        return "no trainer_state.json (the save did not finish)"
    if not weight_files(checkpoint):
        return "no model weights"
    return damaged_tensor(checkpoint)


def newest_complete_checkpoint(checkpoints: Path, report: bool = True) -> Path | None:
    """The newest resumable checkpoint-N under `checkpoints`, saying which one and why newer ones were skipped;
    warns loudly when it lacks optimizer, scheduler or RNG state (the run then cannot continue exactly)."""
    candidates = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.rsplit("-", 1)[-1])
                        if p.name.rsplit("-", 1)[-1].isdigit() else -1, reverse=True)
    for candidate in candidates:
        reason = incomplete_reason(candidate)
        if reason is not None:
            if report:
                print(f"--resume: skipping incomplete {candidate}: {reason}", file=sys.stderr)
            continue
        missing = [name for name in RESUME_STATE if not (candidate / name).exists()]
        if missing and report:
            message = (f"--resume: {candidate} has no {', '.join(missing)}: the optimizer, schedule or random state "
                       "starts fresh, so the run will not continue exactly as it would have")
            warnings.warn(message, stacklevel=2)
            print(f"WARNING {message}", file=sys.stderr)
        if report:
            print(f"--resume: resuming from {candidate}", file=sys.stderr)
        return candidate
    return None


def check_resume_tensors(model: Any, checkpoint: Path) -> None:
    """Refuse a checkpoint whose stored tensors are not the model's (the Trainer would load it non-strictly)."""
    tied = set(getattr(model, "all_tied_weights_keys", {}) or {})
    expected = {k for k in model.state_dict() if k not in tied}
    stored = checkpoint_tensor_names(checkpoint)
    missing, unexpected = sorted(expected - stored), sorted(stored - expected)
    if missing or unexpected:
        raise ValueError(f"{checkpoint} does not match {type(model).__name__}: missing tensors {missing[:8]}, "
                         f"unexpected {unexpected[:8]}")
