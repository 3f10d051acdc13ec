"""kill -9 in the middle of `hfv pretrain`, then `--resume`: the final weights and the loss curve are bitwise those
of the uninterrupted run, for one variant per pretraining objective (issue 14)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hf_variants.data import load
from hf_variants.tokenization import train_tokenizer
from hf_variants.training.pretrain import SIZES, _texts, pretrain

ROOT = Path(__file__).resolve().parents[2]
# 8 steps: checkpoints (and evaluations) every 2; the killed run dies in step 6, so resumes from step 4 and
# redoes step 5. 12 texts make epochs of 3-4 steps: the run crosses epochs and resumes inside epoch 1 (bert, bart,
# electra) or at its start (t5, llama).
OPTIONS = dict(steps=8, batch_size=4, max_examples=12, max_validation=8, seed=5, quiet=True)
KILL_AT = 5
OBJECTIVES = {"bert": "mlm+nsp", "llama": "causal-lm", "t5": "span-corruption", "bart": "denoising",
              "electra": "replaced-token-detection"}
CURVE_KEYS = ("step", "epoch", "loss", "grad_norm", "learning_rate", "eval_loss")


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    files = sorted(folder.rglob("*.safetensors"))
    files = [f for f in files if "checkpoints" not in f.relative_to(folder).parts]
    return {f"{f.relative_to(folder)}:{k}": v for f in files for k, v in load_file(f).items()}


def _curve(folder: Path) -> list[dict]:
    checkpoint = folder / "checkpoints" / f"checkpoint-{OPTIONS['steps']}" / "trainer_state.json"
    history = json.loads(checkpoint.read_text())["log_history"]
    return [{k: v for k, v in entry.items() if k in CURVE_KEYS} for entry in history]


@pytest.mark.parametrize("variant", sorted(OBJECTIVES))
def test_kill_9_and_resume_is_bitwise_the_uninterrupted_run(variant, tmp_path):
    texts, _ = _texts(load("shakespeare"))
    tokenizer = train_tokenizer(variant, texts[:OPTIONS["max_examples"]], vocab_size=SIZES["tiny"]["vocab_size"],
                                show_progress=False)
    tokenizer.save_pretrained(tmp_path / "tokenizer")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    metrics = pretrain(variant, str(whole), tokenizer=str(tmp_path / "tokenizer"), **OPTIONS)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-m", "tests.training.killed_run", variant, str(killed),
                          str(tmp_path / "tokenizer"), str(KILL_AT), json.dumps(OPTIONS)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr[-3000:]
    assert not (killed / "model.safetensors").exists()
    resumed = pretrain(variant, str(killed), tokenizer=str(tmp_path / "tokenizer"), resume=True, **OPTIONS)

    assert _curve(killed) == _curve(whole)
    assert resumed["validation_loss"] == metrics["validation_loss"]
    expected, actual = _weights(whole), _weights(killed)
    assert expected.keys() == actual.keys()
    differing = [k for k in expected if not torch.equal(expected[k], actual[k])]
    assert not differing, f"{len(differing)} of {len(expected)} tensors differ, e.g. {differing[:3]}"
