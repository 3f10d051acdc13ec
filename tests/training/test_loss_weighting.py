"""Token-level losses under gradient accumulation and 2 processes equal the full-batch token mean (transformers' loss
keywords: `num_items_in_batch`, `shift_labels`), the keywords never reach the attention kernels, and the MoE
balancing loss counts once per step. docs/training_fidelity.md explains the differences from native."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers.modeling_utils import AttentionInterface

from tests.training.loss_cases import (
    CASES,
    TRAINER_CASES,
    build,
    full_batch_gradients,
    global_batch,
    gradients,
    items,
    max_difference,
    micro_batches,
    stack,
)

ROOT = Path(__file__).resolve().parents[2]
EXACT = 1e-6
TOKEN_CASES = ("causal_lm", "masked_lm", "token_classification", "seq2seq", "electra_rtd", "bert_pretraining")


def _rows(case, model):
    rows = global_batch(case, model.config.vocab_size)
    if case == "bert_pretraining":  # the MLM part only: NSP is a per-sequence mean (see test_sequence_part...)
        rows = [{k: v for k, v in row.items() if k != "next_sentence_label"} for row in rows]
    return rows


@pytest.mark.parametrize("case", TOKEN_CASES)
def test_accumulated_micro_batches_equal_the_full_batch_token_mean(case):
    """4 micro-batches with 3, 7, 17, 13 labelled tokens, each with the step's `num_items_in_batch`: the summed
    gradients equal those of one forward over all rows; plain per-micro-batch means (what accepts_loss_kwargs=False
    gives) do not."""
    model = build(case)
    rows = _rows(case, model)
    model(**stack(rows)).loss.backward()
    reference = gradients(model)
    causal = case == "causal_lm"
    batches = micro_batches(rows)
    total = sum(items(b, causal) for b in batches)
    for with_items in (True, False):
        model.zero_grad()
        for micro in batches:
            extra = {"num_items_in_batch": total} if with_items else {}
            loss = model(**micro, **extra).loss
            (loss if with_items else loss / len(batches)).backward()
        difference = max_difference(gradients(model), reference)
        if with_items:
            assert difference <= EXACT, difference
        else:
            assert difference > 1e-4, "the micro-batches must be unequal enough to tell the two apart"


def test_trainer_gradient_accumulation_equals_the_full_batch_token_mean(tmp_path):
    """Trainer (accepts_loss_kwargs -> num_items_in_batch) with 4 accumulation steps of 2 rows, SGD at lr 1: the
    update is minus the full-batch token-mean gradient, for causal LM, masked LM, token classification, seq2seq."""
    from tests.training.trainer_step import trainer_update

    for case in TRAINER_CASES:
        update = trainer_update(case, per_device=2, accumulation=4, output_dir=str(tmp_path / case))
        reference = full_batch_gradients(case)
        assert max_difference({n: -u for n, u in update.items() if n in reference}, reference) <= EXACT, case
        assert all(update[n].abs().max() == 0 for n in update if n not in reference)


@pytest.mark.slow
def test_two_processes_equal_the_full_batch_token_mean(tmp_path):
    """torchrun --nproc_per_node 2 (gloo DDP on CPU), 2 accumulation steps of 2 rows per process: Trainer counts the
    items over both processes and multiplies by the world size; the update equals minus the full-batch gradient."""
    output = tmp_path / "updates.pt"
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(ROOT / "tests" / "training" / "trainer_step.py"), str(output), "2", *TRAINER_CASES]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    updates = torch.load(output)
    assert updates["world_size"] == 2
    for case in TRAINER_CASES:
        reference = full_batch_gradients(case)
        update = updates[case]
        assert max_difference({n: -u for n, u in update.items() if n in reference}, reference) <= EXACT, case


def test_moe_balancing_loss_counts_once_per_step():
    """4 copies of one micro-batch with the step's num_items_in_batch add up to exactly the single-batch loss
    (token loss + coef * aux): the balancing loss is weighted by each micro-batch's share of the step's tokens,
    not added once per micro-batch."""
    model = build("mixtral_causal_lm").eval()
    batch = stack(global_batch("mixtral_causal_lm", model.config.vocab_size)[:2])
    with torch.no_grad():
        single = model(**batch)
        total = 4 * items(batch, causal=True)
        accumulated = sum(model(**batch, num_items_in_batch=total).loss for _ in range(4))
    assert single.aux_loss > 0
    torch.testing.assert_close(accumulated, single.loss, atol=1e-6, rtol=1e-6)


def test_sequence_part_of_pretraining_is_weighted_by_its_share():
    """BERT pretraining: MLM is sum / num_items_in_batch; NSP a per-micro-batch mean times its share of the step's
    labelled tokens, so 4 copies of one micro-batch add up to the single-batch loss."""
    model = build("bert_pretraining").eval()
    batch = stack(global_batch("bert_pretraining", model.config.vocab_size)[:2])
    with torch.no_grad():
        single = model(**batch).loss
        total = 4 * items(batch, causal=False)
        accumulated = sum(model(**batch, num_items_in_batch=total).loss for _ in range(4))
    torch.testing.assert_close(accumulated, single, atol=1e-6, rtol=1e-6)


def test_sequence_level_heads_keep_means():
    """Sequence classification, QA and multiple choice losses are per-sequence means: Trainer must average them over
    accumulation steps itself, so they do not ask for num_items_in_batch."""
    import transformers

    import hf_variants  # noqa: F401
    from tests.variant_configs import tiny_config

    for variant, auto in (("bert", "AutoModelForSequenceClassification"), ("bert", "AutoModelForQuestionAnswering"),
                          ("bert", "AutoModelForMultipleChoice"), ("llama", "AutoModelForSequenceClassification"),
                          ("bart", "AutoModelForSequenceClassification")):
        model = getattr(transformers, auto).from_config(tiny_config(variant))
        assert model.accepts_loss_kwargs is False, (variant, auto)
    for case in TOKEN_CASES:
        assert build(case).accepts_loss_kwargs is True, case


@pytest.mark.parametrize("variant", ["llama", "gpt2", "mistral"])
def test_shift_labels_and_num_items_equal_native(variant):
    """With the same weights, our causal-LM loss equals native's with `num_items_in_batch` and with `shift_labels`
    (which replaces the internal shift; native decoders honour both), and `shift_labels` changes the loss."""
    import transformers

    from hf_variants.convert import to_native
    from tests.variant_configs import tiny_config

    torch.manual_seed(0)
    ours = transformers.AutoModelForCausalLM.from_config(tiny_config(variant), attn_implementation="eager").eval()
    native = to_native(ours).eval()
    batch = stack(global_batch("causal_lm", ours.config.vocab_size))
    shifted = torch.roll(batch["labels"], 2, dims=1)
    with torch.no_grad():
        for extra in ({}, {"num_items_in_batch": torch.tensor(11)}, {"shift_labels": shifted},
                      {"shift_labels": shifted, "num_items_in_batch": torch.tensor(23)}):
            torch.testing.assert_close(ours(**batch, **extra).loss, native(**batch, **extra).loss,
                                       atol=1e-6, rtol=1e-6, msg=str(extra.keys()))
        assert not torch.isclose(ours(**batch).loss, ours(**batch, shift_labels=shifted).loss)


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_keywords_do_not_reach_the_attention_kernels(case, monkeypatch):
    """The heads consume num_items_in_batch / shift_labels / ignore_index; the kernels get none of them."""
    seen = set()
    sdpa = AttentionInterface._global_mapping["sdpa"]

    def recording(module, query, key, value, mask, **kwargs):
        seen.update(kwargs)
        return sdpa(module, query, key, value, mask, **kwargs)

    monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", recording)
    model = build(case)
    model.set_attn_implementation("sdpa")
    batch = stack(global_batch(case, model.config.vocab_size)[:2])
    extra = {"num_items_in_batch": items(batch, causal=False), "ignore_index": -100}
    if case in ("causal_lm", "mixtral_causal_lm"):
        extra["shift_labels"] = batch["labels"]
    model(**batch, **extra).loss.backward()
    assert seen and not seen & {"num_items_in_batch", "shift_labels", "ignore_index"}, seen
