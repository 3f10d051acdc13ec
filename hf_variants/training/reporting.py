"""What every training run leaves in its output folder: metrics JSON, loss-curve PNG, a model card."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import TrainerCallback


class LossHistory(TrainerCallback):
    """Collects (step, loss) and (step, eval_loss) as the Trainer logs them; a resumed run starts from the
    checkpoint's log history, so its curve is the whole run's."""

    def __init__(self):
        self.train: list[tuple[int, float]] = []
        self.eval: list[tuple[int, float]] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.train, self.eval = [], []
        for logs in state.log_history:
            self._add(logs.get("step", 0), logs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._add(state.global_step, logs or {})

    def _add(self, step: int, logs: dict) -> None:
        if "loss" in logs:
            self.train.append((step, float(logs["loss"])))
        if "eval_loss" in logs:
            self.eval.append((step, float(logs["eval_loss"])))


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
    """README.md: huggingface_hub's ModelCard with the element table, recipe, metrics and the three ways to load
    (hf_variants.hub.model_card); needs the saved config.json and weights in `output`."""
    from ..hub.model_card import write_model_card as write_card

    return write_card(output, variant=variant, task=task, data=data, metrics=metrics, command=command)
