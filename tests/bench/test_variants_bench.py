"""Smoke run of the side-by-side benchmark at the tiny size (the full run is `make bench`, not a test)."""

import json

import pytest
import torch

from hf_variants.bench import format_table, write_results
from hf_variants.bench.variants import (
    VARIANT_NAMES,
    bench_variant,
    build_pair,
    make_batch,
    native_kwargs,
    run,
    step_peak_memory_mib,
    summary,
    train_step_fn,
)


def test_tiny_bench_rows_and_results(tmp_path):
    rows = bench_variant("llama", "tiny", memory=False, repeats=1)
    cases = [r["case"] for r in rows]
    assert any(c.startswith("train step fwd+bwd+AdamW") for c in cases)
    assert sum("generate tokens/s" in c for c in cases) == 2
    for row in rows:
        assert row["ours"] > 0 and row["native"] > 0
        assert row["ratio"] == pytest.approx(row["ours"] / row["native"], rel=0.01, abs=2e-3)
    result = write_results(rows, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == rows == result["rows"]
    assert "| llama | tiny |" in summary(rows)
    assert "llama tiny train step" in format_table(rows)


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_pair_holds_the_same_weights_and_loss(name):
    """Every benchmarked variant builds at the tiny size (its config must pass validation) with native's loss."""
    ours, native = build_pair(name, "tiny")
    batch = make_batch(ours, "tiny")
    with torch.no_grad():
        loss, native_loss = ours(**batch).loss, native(**batch, **native_kwargs(native)).loss
    torch.testing.assert_close(loss, native_loss, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ["mixtral", "switch"])
def test_moe_train_steps_train_alike(name):
    """The bench's training steps compute the same loss on both sides, router losses included, so the second step
    (after an AdamW update from the router losses' gradients too) routes and costs the same: native Switch adds
    its z-loss and balancing loss only when its forward is given output_router_logits=True."""
    ours, native = build_pair(name, "tiny")
    batch = make_batch(ours, "tiny")
    ours_step, native_step = train_step_fn(ours, batch), train_step_fn(native, batch)
    for _ in range(2):
        torch.testing.assert_close(ours_step(), native_step(), rtol=0, atol=1e-5)


def test_step_peak_memory_sees_a_large_allocation():
    def step():
        buffer = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        buffer += 1

    assert step_peak_memory_mib(step) > 48
    ours, _ = build_pair("bert", "tiny")
    step = train_step_fn(ours, make_batch(ours, "tiny"))
    step()
    assert step_peak_memory_mib(step) >= 0


def test_bad_options():
    with pytest.raises(ValueError, match="device='tpu'"):
        run(device="tpu")
    with pytest.raises(ValueError, match="unknown variants"):
        run(variants=("gpt3",))


def test_chunked_loss_memory_bench_runs_in_process():
    from hf_variants.bench.chunked_loss import measure

    for path in ("plain", "chunked"):
        assert measure(path, size="tiny", batch=2, seq_len=16, chunk_size=8, vocab_size=1000) >= 0


def test_gpu_bench_script_correctness_case_on_cpu():
    """scripts/gpu_bench.py's per-variant check, on CPU in fp32 (its GPU run does the same in bf16)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "gpu_bench.py"
    spec = importlib.util.spec_from_file_location("gpu_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, attn in (("llama", "sdpa"), ("switch", "eager")):  # Switch: native's router losses need the argument
        result = module.check_variant(name, attn, "cpu", torch.float32)
        assert result["ok"] and result["max_abs_logits"] == 0.0 and result["generate_equal_tokens"] == 1.0
        assert abs(result["loss_ours"] - result["loss_native"]) < 1e-5


def test_memory_subprocess_counts_tensors_the_warm_up_freed():
    """A step that re-allocates what the warm-up step freed is still seen (glibc's default would reuse the freed
    heap and report ~0: the heap effect that made Switch look 1.7x native)."""
    import subprocess
    import sys

    from hf_variants.bench.variants import memory_env

    code = ("import torch; from hf_variants.bench.variants import step_peak_memory_mib\n"
            "big = torch.ones(2**22); del big\n"  # 16 MiB, mmapped then freed: glibc raises its threshold
            "def step():\n    blocks = [torch.ones(2**19) for _ in range(8)]\n    del blocks\n"
            "step()\nprint(step_peak_memory_mib(step))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=memory_env(), check=True)
    assert float(out.stdout.strip().splitlines()[-1]) > 14  # eight 2 MiB tensors
