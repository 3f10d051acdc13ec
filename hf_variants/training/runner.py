"""The Trainer run shared by pretraining and fine-tuning: output-folder safety, resumption, reporting."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from transformers import PrinterCallback, Trainer, TrainingArguments

from ..checkpoints import check_resume_tensors, newest_complete_checkpoint
from ..families.base import HfvPreTrainedModel
from ..objectives.noise import EVAL_SPLIT, NoiseEpochCallback, NoiseSeededDataset, uses_noise_seeds
from .reporting import LossHistory, plot_loss, write_metrics, write_model_card
from .throughput import install_throughput

# Batch keys that are model inputs; every other key of a collated batch is a target (labels, next_sentence_label,
# start_positions, ...).
MODEL_INPUTS = {"input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds", "decoder_input_ids",
                "decoder_attention_mask", "special_tokens_mask"}


def prepare_output(output: str | Path, resume: bool, overwrite: bool) -> Path:
    """Refuse to write into a non-empty folder unless resuming or explicitly overwriting (never lose user work)."""
    output = Path(output)
    if output.exists() and any(output.iterdir()) and not (resume or overwrite):
        raise FileExistsError(
            f"{output} is not empty: pass --resume to continue its last checkpoint or --overwrite to replace it")
    output.mkdir(parents=True, exist_ok=True)
    return output


def last_checkpoint(output: Path, report: bool = False) -> str | None:
    """The newest complete checkpoint of a run (incomplete ones, e.g. from a failed save, are skipped)."""
    checkpoint = newest_complete_checkpoint(Path(output) / "checkpoints", report=report)
    return str(checkpoint) if checkpoint is not None else None


@dataclass
class RunSettings:
    output: Path
    steps: int
    batch_size: int = 16
    learning_rate: float = 5e-4
    warmup_ratio: float = 0.05
    eval_steps: int | None = None
    seed: int = 0
    resume: bool = False
    logging_steps: int = 10
    trainer_class: type = Trainer
    label_names: list[str] | None = None
    # Progress bars by default; quiet runs (make demo) print their own one-line summaries instead.
    quiet: bool = False
    # Accelerator peak TFLOP/s for the MFU in metrics.json (None: the known peak of the CUDA device, if any).
    peak_tflops: float | None = None

    def arguments(self, has_eval: bool) -> TrainingArguments:
        eval_steps = self.eval_steps or max(1, self.steps // 4)
        return TrainingArguments(
            output_dir=str(self.output / "checkpoints"),
            max_steps=self.steps,
            per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=self.batch_size * 2,
            learning_rate=self.learning_rate,
            warmup_steps=max(0, int(self.warmup_ratio * self.steps)),
            lr_scheduler_type="linear",
            weight_decay=0.01,
            logging_steps=min(self.logging_steps, max(1, self.steps // 10)),
            eval_strategy="steps" if has_eval else "no",
            eval_steps=eval_steps,
            save_strategy="steps",
            save_steps=eval_steps,
            save_total_limit=1,
            seed=self.seed,
            report_to=[],
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
            remove_unused_columns=False,
            disable_tqdm=self.quiet,
            log_level="error" if self.quiet else "passive",
            label_names=self.label_names,
        )


def train(model, settings: RunSettings, train_dataset, eval_dataset=None, data_collator=None, processing_class=None,
          **trainer_kwargs):
    """Run the Trainer (resuming from the last checkpoint when asked); returns (trainer, loss history).

    A collator that reads per-example noise seeds gets them from `settings.seed`, the epoch and the example index
    (`objectives.noise`), so its masking does not depend on the global RNG: a `--resume` redraws what the
    uninterrupted run drew."""
    history = LossHistory()
    callbacks: list = [history]
    if uses_noise_seeds(data_collator):
        train_dataset = NoiseSeededDataset(train_dataset, settings.seed)
        callbacks.append(NoiseEpochCallback(train_dataset))
        if eval_dataset is not None:  # one fixed draw, so every evaluation sees the same noise
            eval_dataset = NoiseSeededDataset(eval_dataset, settings.seed, split=EVAL_SPLIT)
    if settings.label_names is None and data_collator is not None:
        # Trainer guesses label names from forward()'s signature and then skips the eval loss when one of them
        # (e.g. sentence_order_label on a BERT) is absent; read them off a real batch instead.
        sample = data_collator([train_dataset[i] for i in range(min(2, len(train_dataset)))])
        settings.label_names = [k for k in sample if k not in MODEL_INPUTS]
    trainer = settings.trainer_class(
        model=model, args=settings.arguments(eval_dataset is not None), train_dataset=train_dataset,
        eval_dataset=eval_dataset, data_collator=data_collator, processing_class=processing_class,
        callbacks=callbacks, **trainer_kwargs,
    )
    history.throughput = install_throughput(trainer, settings.peak_tflops)
    if settings.quiet:
        trainer.remove_callback(PrinterCallback)  # no per-step log dicts; the caller prints a summary
    checkpoint = last_checkpoint(settings.output, report=True) if settings.resume else None
    if settings.resume and checkpoint is None:
        print(f"--resume: no complete checkpoint in {settings.output / 'checkpoints'}, starting fresh")
    if checkpoint is not None and isinstance(model, HfvPreTrainedModel):
        check_resume_tensors(model, Path(checkpoint))
    trainer.train(resume_from_checkpoint=checkpoint)
    return trainer, history


def finish(output: Path, history: LossHistory, metrics: dict, *, variant: str, task: str, data: str,
           command: str) -> None:
    """Write metrics.json, loss_curve.png and README.md next to the saved model. `command` is the equivalent
    `hfv` command line, so the card says how to reproduce the run however it was started. The training throughput
    (tokens/s, model TFLOP/s, MFU) joins `metrics`."""
    throughput = getattr(history, "throughput", None)
    if throughput is not None:
        metrics.update(throughput.metrics())
    write_metrics(output, metrics)
    plot_loss(output, history, f"hfv_{variant} {task}")
    write_model_card(output, variant=variant, task=task, data=data, metrics=metrics, command=command)


def command_line(*words, **options) -> str:
    """`hfv` command text from positional words and --options (None/False options are left out)."""
    parts = ["hfv", *map(str, words)]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)
