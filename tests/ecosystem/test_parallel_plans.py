"""Parallelism plans on our module paths: every rule names real modules and a known style (transformers' own
checks), and on CPU (gloo, 2 processes) transformers' DistributedConfig tensor parallel and FSDP2 give the
1-process loss, hold about half the parameters per rank, and TP saves a checkpoint that loads."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers.distributed.fsdp import ALL_FSDP_STYLES
from transformers.distributed.parallel_utils import ALL_PARALLEL_STYLES, replace_layer_number_by_wildcard
from transformers.distributed.tensor_parallel import verify_tp_plan

import hf_variants
from tests.variant_configs import TEST_VARIANTS, tiny_config

ROOT = Path(__file__).resolve().parents[2]
HEADS = {"decoder": "ForCausalLM", "encoder": "ForMaskedLM", "encoder-decoder": "ForConditionalGeneration"}


def model_of(name, **overrides):
    spec = hf_variants.VARIANTS[name]
    return spec.classes[HEADS[spec.family]](tiny_config(name, **overrides))


def names_of(model):
    return {replace_layer_number_by_wildcard(n) for n, _ in [*model.named_modules(), *model.named_parameters()]}


@pytest.mark.parametrize("family", sorted(set(HEADS)))
def test_every_rule_names_modules_of_the_family(family):
    variants = [name for name in TEST_VARIANTS if hf_variants.VARIANTS[name].family == family]
    # the variants' defaults, plus a gated MLP (a config choice every variant accepts)
    models = [model_of(name) for name in variants] + [model_of(variants[0], ffn_type="glu")]
    for plan_name, styles in (("tp_plan", ALL_PARALLEL_STYLES), ("fsdp_plan", ALL_FSDP_STYLES)):
        plan = getattr(models[0], plan_name)
        assert plan, f"{family}: no {plan_name}"
        assert set(plan.values()) <= set(styles)
        used = set().union(*(plan.keys() & names_of(model) for model in models))
        assert used == set(plan), f"{family} {plan_name} rules matching no variant: {set(plan) - used}"


@pytest.mark.parametrize("name", list(TEST_VARIANTS))
def test_every_attention_and_dense_mlp_weight_is_sharded(name, caplog):
    model = model_of(name)
    keys = [n for n, _ in model.named_parameters() if re.search(r"(attn\.(?:qkv|[qkvo])_proj|mlp\.\w+_proj)\.weight$", n)
            and ".experts." not in n]
    unsharded = [k for k in keys if not any(re.fullmatch(rule.replace(".", r"\.").replace("*", r"\d+") + r"\.weight", k)
                                            for rule in model.tp_plan)]
    assert keys and not unsharded
    verify_tp_plan(keys, model.tp_plan)  # transformers' load-time check: warns about unused rules / unsharded layers
    assert "were not sharded" not in caplog.text


def run_two_processes(checkpoint: Path, saved: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    records = saved.parent / "records"
    records.mkdir()
    script = str(ROOT / "tests/ecosystem/distributed_step.py")
    result = subprocess.run([*torchrun, script, str(checkpoint), str(saved), str(records)],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return [json.loads(path.read_text()) for path in sorted(records.glob("*.json"))]


# LLaMA: separate q/k/v (TP splits heads), untied head; GPT-2: fused q/k/v (TP gathers its output), head tied to the
# token table (FSDP wraps the shared weight once).
@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_tensor_parallel_and_fsdp2_on_two_cpu_processes(tmp_path, name):
    torch.manual_seed(0)
    model = model_of(name).eval()
    assert model.config.tie_word_embeddings == (name == "gpt2")
    model.save_pretrained(tmp_path / "base")
    ids = torch.arange(3, 35).view(4, 8) % 90 + 3
    expected = model(input_ids=ids, labels=ids).loss.item()
    total = {name: p.numel() for name, p in model.named_parameters()}
    records = run_two_processes(tmp_path / "base", tmp_path / "tp_saved")
    assert sorted((r["mode"], r["rank"]) for r in records) == [("fsdp", 0), ("fsdp", 1), ("tp", 0), ("tp", 1)]
    for record in records:
        assert abs(record["loss"] - expected) < 1e-5, record["mode"]
        # really sharded: the blocks' weights (FSDP keeps the tied table and final norm whole after the forward)
        in_blocks = [name for name in total if ".layers." in name]
        held = sum(record["parameters"][name] for name in in_blocks)
        assert held < 0.75 * sum(total[name] for name in in_blocks), record["mode"]
        for name, numel in record["parameters"].items():
            block = ".layers." if record["mode"] == "fsdp" else r"attn\.(?:qkv|[qkvo])_proj\.weight|mlp\.\w+_proj\.weight"
            if re.search(block, name):
                assert numel < total[name], (record["mode"], name)  # every block's weights are split
    reloaded = type(model).from_pretrained(tmp_path / "tp_saved").eval()
    assert torch.allclose(reloaded(input_ids=ids, labels=ids).loss, torch.tensor(expected), atol=1e-6)
