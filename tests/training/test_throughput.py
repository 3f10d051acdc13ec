"""The throughput callback: tokens/s, model FLOPs and MFU in the run's metrics, Trainer's total_flos from the
model's own accounting."""

import json

import pytest
import torch
from datasets import Dataset

import hf_variants
from hf_variants.accounting import account
from hf_variants.training.runner import RunSettings, finish, train
from hf_variants.training.throughput import batch_tokens, install_throughput
from tests.variant_configs import tiny_config

STEPS, BATCH, SEQ = 3, 4, 16


def _dataset(n=12, seq=SEQ):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, 99, (n, seq), generator=generator)
    return Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})


def test_metrics_report_tokens_flops_and_mfu(tmp_path):
    config = tiny_config("llama")
    model = hf_variants.VARIANTS["llama"].classes["ForCausalLM"](config)
    settings = RunSettings(output=tmp_path, steps=STEPS, batch_size=BATCH, quiet=True, peak_tflops=0.5)
    trainer, history = train(model, settings, _dataset())
    per_sequence = account(model, SEQ).training_flops
    assert trainer.state.total_flos == STEPS * BATCH * per_sequence  # not 6 x parameters x tokens
    metrics = {}
    model.save_pretrained(tmp_path)  # the model card reads the saved config and weights, as after a real run
    finish(tmp_path, history, metrics, variant="llama", task="causal-lm", data="random", command="hfv test")
    assert metrics["train_tokens"] == STEPS * BATCH * SEQ
    assert metrics["train_model_flops"] == STEPS * BATCH * per_sequence
    seconds = metrics["train_tokens"] / metrics["train_tokens_per_second"]
    assert metrics["train_model_tflops_per_second"] == pytest.approx(metrics["train_model_flops"] / seconds / 1e12)
    assert metrics["train_mfu"] == pytest.approx(metrics["train_model_tflops_per_second"] / 0.5)
    assert json.loads((tmp_path / "metrics.json").read_text())["train_mfu"] == metrics["train_mfu"]
    assert "train_tokens_per_second" in (tmp_path / "README.md").read_text()


def test_encoder_decoder_tokens_and_bad_peak(tmp_path):
    inputs = {"input_ids": torch.zeros(2, 10, dtype=torch.long), "labels": torch.zeros(2, 4, dtype=torch.long)}
    assert batch_tokens(inputs, encoder_decoder=True) == 28
    assert batch_tokens(inputs) == 20
    config = tiny_config("t5")
    model = hf_variants.VARIANTS["t5"].classes["ForConditionalGeneration"](config)
    assert model.floating_point_ops(inputs) == 2 * account(model, 10, 4).training_flops
    trainer, _ = train(model, RunSettings(output=tmp_path, steps=1, batch_size=2, quiet=True), _dataset(4))
    with pytest.raises(ValueError, match="peak_tflops=-1"):
        install_throughput(trainer, -1)
