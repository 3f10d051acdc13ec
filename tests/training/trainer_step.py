"""One Trainer step over the 8-row global batch of `loss_cases`, with plain SGD at learning rate 1 and no clipping,
so the parameter change is minus the step's gradient. Imported by the tests (one process, gradient accumulation)
and run as a script under `torchrun --nproc_per_node 2` (gloo DDP on CPU): `python trainer_step.py OUT GA CASE...`
writes {case: {parameter: update}, "world_size": N} to OUT from rank 0."""

from __future__ import annotations

import os
import sys

import torch

if __package__ in (None, ""):  # run as a script: make `tests` importable from the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.training.loss_cases import build, global_batch  # noqa: E402


class _Rows(torch.utils.data.Dataset):
    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, index):
        return self.rows[index]


def trainer_update(case: str, per_device: int, accumulation: int, output_dir: str,
                   model=None) -> dict[str, torch.Tensor]:
    """-(gradient) of one Trainer step that sees the 8 rows once (per_device * accumulation * processes = 8), for
    the case's model or `model` (e.g. the native counterpart, for measurements)."""
    from transformers import Trainer, TrainingArguments, default_data_collator

    model = build(case) if model is None else model.train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    args = TrainingArguments(
        output_dir=output_dir, per_device_train_batch_size=per_device, gradient_accumulation_steps=accumulation,
        max_steps=1, learning_rate=1.0, optim="sgd", weight_decay=0.0, max_grad_norm=0.0,
        lr_scheduler_type="constant", warmup_steps=0, report_to=[], save_strategy="no", logging_strategy="no",
        use_cpu=True, seed=0, disable_tqdm=True, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=_Rows(global_batch(case, model.config.vocab_size)),
                      data_collator=default_data_collator)
    trainer.train()
    return {n: p.detach() - before[n] for n, p in model.named_parameters()}


def main(argv: list[str]) -> None:
    output, accumulation, cases = argv[0], int(argv[1]), argv[2:]
    torch.set_num_threads(1)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_device = 8 // (world * accumulation)
    directory = output + ".trainer"  # the same path on every rank, as Trainer requires
    updates = {case: trainer_update(case, per_device, accumulation, directory) for case in cases}
    updates["world_size"] = world
    if int(os.environ.get("RANK", "0")) == 0:
        torch.save(updates, output)


if __name__ == "__main__":
    main(sys.argv[1:])
