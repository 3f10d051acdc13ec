"""What every training run leaves in its output folder: metrics JSON, loss-curve PNG, a model card."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback


class LossHistory(TrainerCallback):
    """Collects (step, loss) and (step, eval_loss) as the Trainer logs them."""

    def __init__(self):
        self.train: list[tuple[int, float]] = []
        self.eval: list[tuple[int, float]] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.train.append((state.global_step, float(logs["loss"])))
        if "eval_loss" in logs:
            self.eval.append((state.global_step, float(logs["eval_loss"])))


def write_metrics(output: Path, metrics: dict) -> Path:
    path = Path(output) / "metrics.json"
    path.write_text(json.dumps(metrics, indent=2, default=float))
    return path


def plot_loss(output: Path, history: LossHistory, title: str) -> Path | None:
    """loss_curve.png (train and eval loss against steps); None when nothing was logged."""
    if not history.train and not history.eval:
        return None
    import matplotlib

    matplotlib.use("Agg")  # headless
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    if history.train:
        axis.plot(*zip(*history.train), label="train loss")
    if history.eval:
        axis.plot(*zip(*history.eval), marker="o", label="eval loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    path = Path(output) / "loss_curve.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_model_card(output: Path, *, variant: str, task: str, data: str, metrics: dict, command: str) -> Path:
    """A short README.md model card (the hub issue will extend it with huggingface_hub's ModelCard)."""
    lines = [
        "---", "library_name: transformers", "tags:", "- hf_variants", f"- hfv_{variant}", "---", "",
        f"# hfv_{variant} — {task}", "",
        f"Trained with hf_variants on `{data}`.", "",
        "Load it with the transformers Auto classes after `import hf_variants` (which registers the variant).", "",
        "## Metrics", "", "| metric | value |", "|---|---|",
        *[f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()],
        "", "## Reproduce", "", "```", command, "```", "",
    ]
    path = Path(output) / "README.md"
    path.write_text("\n".join(lines))
    return path
