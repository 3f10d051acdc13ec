"""MoE block forward+backward: hf_variants' SparseMoE against native Mixtral's block with its "eager" and
"grouped_mm" experts, on the same weights and tokens (interleaved runs, medians). `python -m hf_variants.bench.moe`
prints the table and writes it to docs/moe.md."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

NATIVE_IMPLEMENTATIONS = ("eager", "grouped_mm")


def _blocks(experts: int, hidden: int, inner: int, top_k: int):
    """Our SparseMoE and native MixtralSparseMoeBlock holding the same weights."""
    from transformers import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    from ..core.config import HfvConfig
    from ..core.moe import SparseMoE

    ours = SparseMoE(HfvConfig(hidden_size=hidden, intermediate_size=inner, num_attention_heads=4,
                               num_hidden_layers=1, num_experts=experts, num_experts_per_tok=top_k,
                               hidden_act="silu", ffn_type="glu", mlp_bias=False))
    native_config = MixtralConfig(hidden_size=hidden, intermediate_size=inner, num_local_experts=experts,
                                  num_experts_per_tok=top_k, num_attention_heads=4, num_hidden_layers=1)
    native = MixtralSparseMoeBlock(native_config)
    with torch.no_grad():
        for tensor in (ours.gate.weight, ours.experts.gate_up_proj, ours.experts.down_proj):
            tensor.normal_(std=0.02)
        native.gate.weight.copy_(ours.gate.weight)
        native.experts.gate_up_proj.copy_(ours.experts.gate_up_proj)
        native.experts.down_proj.copy_(ours.experts.down_proj)
    return ours, native, native_config


def _step(block, x: torch.Tensor, grad: torch.Tensor) -> float:
    start = time.perf_counter()
    out = block(x)
    out = out[0] if isinstance(out, tuple) else out
    out.backward(grad)
    elapsed = time.perf_counter() - start
    block.zero_grad(set_to_none=True)
    x.grad = None
    return elapsed


def bench_case(experts: int, tokens: int, hidden: int, top_k: int = 2, repeats: int = 7) -> dict:
    torch.manual_seed(0)
    inner = 2 * hidden
    ours, native, native_config = _blocks(experts, hidden, inner, top_k)
    x = torch.randn(1, tokens, hidden, requires_grad=True)
    grad = torch.randn(1, tokens, hidden)
    runners = {"ours": lambda: _step(ours, x, grad)}
    for name in NATIVE_IMPLEMENTATIONS:
        def run_native(name=name):
            native_config._experts_implementation = name
            return _step(native, x, grad)
        runners[name] = run_native
    times = {name: [] for name in runners}
    for name, runner in runners.items():  # warm-up
        runner()
    for _ in range(repeats):  # interleaved, so drift hits every implementation alike
        for name, runner in runners.items():
            times[name].append(runner())
    med = {name: statistics.median(values) for name, values in times.items()}
    return {
        "benchmark": "moe block fwd+bwd",
        "case": f"top-{top_k} of {experts}, {tokens} tokens, hidden {hidden}, ffn {inner}",
        "ours_s": round(med["ours"], 5),
        "native_s": round(med["grouped_mm"], 5),
        "native_eager_s": round(med["eager"], 5),
        "ratio": round(med["ours"] / med["grouped_mm"], 3),
        "speedup_vs_native_eager": round(med["eager"] / med["ours"], 2),
    }


def run(quick: bool = False) -> list[dict]:
    """Top-2 of 8 and of 32 experts, 512 and 2048 tokens, hidden 256 and 512 (quick: hidden 256, fewer repeats)."""
    rows = []
    for hidden in (256,) if quick else (256, 512):
        for experts in (8, 32):
            for tokens in (512, 2048):
                row = bench_case(experts, tokens, hidden, repeats=3 if quick else 7)
                print(row, flush=True)
                rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| case | ours (s) | native grouped_mm (s) | native eager (s) | ours / grouped_mm | eager / ours |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['ours_s']} | {r['native_s']} | {r['native_eager_s']} | {r['ratio']} | "
                     f"{r['speedup_vs_native_eager']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import platform
    import sys
    from datetime import date

    quick = "--quick" in sys.argv
    table = markdown(run(quick=quick))
    print(table)
    if "--write" in sys.argv:
        header = (f"Measured {date.today().isoformat()} on {platform.machine()} with {torch.get_num_threads()} threads,"
                  f" torch {torch.__version__}: `python -m hf_variants.bench.moe{' --quick' if quick else ''} --write`")
        Path("docs").mkdir(exist_ok=True)
        Path("docs/moe_bench_table.md").write_text(header + "\n\n" + table + "\n")
