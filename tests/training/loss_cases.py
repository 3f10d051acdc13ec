"""Token-level training cases shared by the loss-weighting tests and the Trainer step script they run (also under
torchrun): a tiny model per head and one global batch of 8 rows whose rows carry unequal numbers of labelled tokens,
so a mean of per-micro-batch means differs from the full-batch token mean."""

from __future__ import annotations

import torch

from tests.variant_configs import tiny_config

ROWS, LENGTH, TARGET_LENGTH = 8, 10, 6
# name -> (variant, Auto class name, extra config)
CASES = {
    "causal_lm": ("llama", "AutoModelForCausalLM", {}),
    "masked_lm": ("bert", "AutoModelForMaskedLM", {}),
    "token_classification": ("bert", "AutoModelForTokenClassification", {"num_labels": 3, "classifier_dropout": 0.0}),
    "seq2seq": ("t5", "AutoModelForSeq2SeqLM", {}),
    "mixtral_causal_lm": ("mixtral", "AutoModelForCausalLM", {"num_experts": 4, "router_aux_loss_coef": 0.5}),
    "electra_rtd": ("electra", "AutoModelForPreTraining", {"embedding_size": 16}),
    "bert_pretraining": ("bert", "AutoModelForPreTraining", {}),
}
# Cases Trainer runs in the gradient-accumulation and 2-process checks.
TRAINER_CASES = ("causal_lm", "masked_lm", "token_classification", "seq2seq")


def build(case: str):
    import transformers

    import hf_variants  # noqa: F401 (registers the Auto classes)

    variant, auto, extra = CASES[case]
    torch.manual_seed(0)
    config = tiny_config(variant, **extra)
    return getattr(transformers, auto).from_config(config, attn_implementation="eager").train()


def _labelled(values: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """`values` with only the first counts[row] positions of each row kept as labels (-100 elsewhere)."""
    keep = torch.arange(values.shape[1])[None, :] < torch.tensor(counts)[:, None]
    return values.masked_fill(~keep, -100)


def global_batch(case: str, vocab_size: int = 99) -> list[dict[str, torch.Tensor]]:
    """8 examples; labelled tokens per row 1, 9, 2, 8, 3, 7, 4, 6 (micro-batches of 2 rows: 10, 10, 10, 10 would
    hide the weighting, so rows are paired unevenly by `micro_batches`)."""
    generator = torch.Generator().manual_seed(7)
    ids = torch.randint(4, vocab_size, (ROWS, LENGTH), generator=generator)
    counts = [1, 9, 2, 8, 3, 7, 4, 6]
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if case == "seq2seq":
        targets = torch.randint(4, vocab_size, (ROWS, TARGET_LENGTH), generator=generator)
        batch["labels"] = _labelled(targets, [min(c, TARGET_LENGTH) for c in counts])
    elif case == "token_classification":
        batch["labels"] = _labelled(torch.randint(0, 3, (ROWS, LENGTH), generator=generator), counts)
    elif case == "electra_rtd":
        batch["labels"] = _labelled(torch.randint(0, 2, (ROWS, LENGTH), generator=generator), counts)
    elif case == "bert_pretraining":
        batch["labels"] = _labelled(ids, counts)
        batch["next_sentence_label"] = torch.randint(0, 2, (ROWS,), generator=generator)
    else:
        batch["labels"] = _labelled(ids, counts)
    return [{k: v[i] for k, v in batch.items()} for i in range(ROWS)]


def stack(rows: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([row[k] for row in rows]) for k in rows[0]}


def micro_batches(rows: list[dict[str, torch.Tensor]], size: int = 2) -> list[dict[str, torch.Tensor]]:
    """Rows in order 0, 2, 4, 6, 1, 3, 5, 7 cut into micro-batches: labelled counts 3, 7, 17, 13 (unequal)."""
    order = [0, 2, 4, 6, 1, 3, 5, 7]
    return [stack([rows[i] for i in order[start:start + size]]) for start in range(0, len(order), size)]


def items(batch: dict[str, torch.Tensor], causal: bool) -> torch.Tensor:
    """What Trainer counts as `num_items_in_batch` (causal LM: the shifted labels)."""
    labels = batch["labels"][..., 1:] if causal else batch["labels"]
    return labels.ne(-100).sum()


def gradients(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def full_batch_gradients(case: str) -> dict[str, torch.Tensor]:
    """Gradients of the full-batch token mean (one forward over all 8 rows, no loss keywords)."""
    model = build(case)
    model(**stack(global_batch(case, model.config.vocab_size))).loss.backward()
    return gradients(model)


def max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[n] - b[n]).abs().max().item() for n in a)
