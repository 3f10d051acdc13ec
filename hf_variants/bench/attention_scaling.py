"""Attention cost as sequence length grows: forward and forward+backward time and peak memory of a small
bidirectional attention stack (2 layers, hidden 128, 4 heads, batch 1, no embeddings or head) for each attention
kind, at 512 ... 8192 tokens on CPU.

Kinds (`KINDS`): full softmax attention (sdpa: a fused kernel that never holds the scores; and eager, which does:
the quadratic-memory reference, measured up to `MAX_TOKENS`), a sliding window (`attention_window`, its mask on
sdpa), local + global tokens (a flex block mask), linear attention (elu+1 features) and Linformer (`linformer_k`). A
kind whose fields this hf_variants does not have, or whose config is refused, is skipped with the reason. Each point
runs in two fresh subprocesses, each with one warm-up of each step: the peak resident memory over one step above the
memory before it (`variants.step_peak_memory_mib`, glibc's mmap threshold fixed: `MEMORY_ENV`), and the median of
`repeats` timed steps. FlexAttention has no backward on CPU: there a flex kind reports its forward only (train fields
null, with the reason). Torch runs on `threads` threads
(default 1): on the shared 2-core machine two OpenMP threads waiting for each other made a 512-token forward 11x
slower (1.22 s against 0.11 s) and the curves meaningless.

`python -m hf_variants.bench --only attention_scaling` (or `python -m hf_variants.bench.attention_scaling
[--lengths 512 1024] [--kinds full linear]`) writes bench/attention_scaling.json and bench/attention_scaling.png and
prints a markdown table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

LENGTHS = (512, 1024, 2048, 4096, 8192)
WIDTH = dict(hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=512)
# kind -> (attention backend, config fields over WIDTH)
KINDS: dict[str, tuple[str, dict]] = {
    "full": ("sdpa", {}),
    "full_eager": ("eager", {}),
    "sliding_window": ("sdpa", {"attention_window": 256}),
    "local_global": ("flex_attention", {"attention_window": 256, "global_attention_positions": [0]}),
    "linear": ("sdpa", {"attention_type": "linear", "linear_feature_map": "elu"}),
    "linformer": ("sdpa", {"attention_type": "linformer", "linformer_k": 256}),
}
# Longest input per kind: eager's fp32 scores and weights of 2 layers need ~7 GiB at 8192 tokens.
MAX_TOKENS = {"full_eager": 4096}
OUTPUT = "bench/attention_scaling.json"
THREADS = 1


def build_config(kind: str, max_length: int):
    """The stack's config for `kind`; ValueError/TypeError (with the reason) when this hf_variants cannot build it."""
    from ..families.encoder import EncoderConfig

    backend, fields = KINDS[kind]
    missing = [name for name in fields if name not in EncoderConfig.__dataclass_fields__]
    if missing:
        raise ValueError(f"config field(s) {', '.join(missing)} do not exist in this hf_variants")
    config = EncoderConfig(**{**WIDTH, "position_embedding_type": "none", "max_position_embeddings": max_length,
                              "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "vocab_size": 8,
                              **fields})
    config._attn_implementation = backend
    return config


def skip_reason(kind: str, max_length: int) -> str | None:
    """Why `kind` cannot run here, or None."""
    try:
        build_config(kind, max_length)
    except (ValueError, TypeError) as error:
        return str(error)
    return None


def measure_point(kind: str, seq_len: int, repeats: int = 3, max_length: int | None = None,
                  threads: int | None = THREADS, parts: tuple[str, ...] = ("memory", "time")) -> dict:
    """Forward and forward+backward peak memory and time (medians) of the stack at `seq_len` tokens, in this process
    (on `threads` torch threads, restored afterwards; None: torch's default); `parts` picks memory and/or time."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        return _measure_point(kind, seq_len, repeats, max_length, parts)
    finally:
        torch.set_num_threads(before)


def _measure_point(kind: str, seq_len: int, repeats: int, max_length: int | None, parts: tuple[str, ...]) -> dict:
    from ..core.stack import TransformerStack
    from .variants import step_peak_memory_mib

    torch.manual_seed(0)
    stack = TransformerStack(build_config(kind, max_length or seq_len), is_causal=False).train()
    inputs = torch.randn(1, seq_len, WIDTH["hidden_size"])

    def forward():
        with torch.no_grad():
            stack(inputs)

    def train():
        hidden = inputs.clone().requires_grad_(True)
        stack(hidden).last_hidden_state.sum().backward()
        stack.zero_grad(set_to_none=True)

    point: dict = {"seq_len": seq_len}
    steps = {"forward": forward, "train": train}
    try:
        train()
    except NotImplementedError as error:  # FlexAttention on CPU: no backward
        steps.pop("train")
        point.update(train_s=None, train_peak_mib=None, train_skipped=str(error).split("\n")[0])
    for name, step in steps.items():
        step()
        if "memory" in parts:
            point[f"{name}_peak_mib"] = round(step_peak_memory_mib(step), 1)
        if "time" in parts:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            point[f"{name}_s"] = round(statistics.median(times), 5)
    return point


# glibc keeps freed blocks below its (growing) mmap threshold resident, so after the warm-up step a step's peak RSS
# hardly rises (0 MiB for 8192 tokens here). A fixed threshold maps every block >= 64 KiB and unmaps it on free: RSS
# then follows live memory. It slows allocation, so the memory and the time of a point run in separate processes.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def point_in_subprocess(kind: str, seq_len: int, repeats: int, max_length: int, threads: int | None = THREADS,
                        timeout: float = 1800) -> dict:
    """`measure_point` in fresh interpreters (one for memory, one for time), so no point inherits another's heap."""
    point = {}
    for part, extra_env in (("memory", MEMORY_ENV), ("time", {})):
        code = ("import json; from hf_variants.bench.attention_scaling import measure_point; print(json.dumps("
                f"measure_point({kind!r}, {seq_len}, {repeats}, {max_length}, {threads!r}, ({part!r},))))")
        env = {**os.environ, **extra_env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout)
        if out.returncode:
            lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
            raise RuntimeError(lines[-1] if lines else f"exit status {out.returncode}")
        point.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return point


def measure(lengths=LENGTHS, kinds=tuple(KINDS), repeats: int = 3, fresh_process: bool = True,
            threads: int | None = THREADS) -> dict:
    """{kind: {"backend", "fields", "skipped", "points"}}; a kind stops at its first failing length (reason kept)."""
    max_length = max(lengths)
    results = {}
    for kind in kinds:
        backend, fields = KINDS[kind]
        entry = {"backend": backend, "fields": fields, "skipped": skip_reason(kind, max_length),
                 "max_tokens": MAX_TOKENS.get(kind), "points": []}
        results[kind] = entry
        if entry["skipped"]:
            print(f"  {kind}: skipped ({entry['skipped']})", flush=True)
            continue
        for seq_len in lengths:
            if seq_len > MAX_TOKENS.get(kind, seq_len):
                print(f"  {kind}: not run above {MAX_TOKENS[kind]} tokens (memory)", flush=True)
                break
            try:
                point = (point_in_subprocess(kind, seq_len, repeats, max_length, threads) if fresh_process
                         else measure_point(kind, seq_len, repeats, max_length, threads))
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                entry["skipped"] = f"failed at {seq_len} tokens: {error}"
                print(f"  {kind}: {entry['skipped']}", flush=True)
                break
            print(f"  {kind} {seq_len}: {json.dumps(point)}", flush=True)
            entry["points"].append(point)
    return results


def growth(points: list[dict], key: str) -> list[float | None]:
    """value(L) / value(previous L) per point (None for the first or a missing value): ~2 linear, ~4 quadratic."""
    ratios: list[float | None] = [None]
    for previous, point in zip(points, points[1:]):
        a, b = previous.get(key), point.get(key)
        ratios.append(round(b / a, 2) if a and b is not None else None)
    return ratios


def table(results: dict) -> str:
    """Markdown: one row per kind and length; x prev = growth over the previous (half) length."""
    lines = ["| kind | backend | tokens | forward s | fwd+bwd s | fwd+bwd x prev | peak MiB fwd+bwd (fwd) |",
             "|---|---|---|---|---|---|---|"]

    def show(value, unit=""):
        return "–" if value is None else f"{value:g}{unit}"
    for kind, entry in results.items():
        if entry["skipped"] and not entry["points"]:
            lines.append(f"| {kind} | {entry['backend']} | – | skipped: {entry['skipped']} | | | |")
            continue
        train_growth = growth(entry["points"], "train_s")
        for point, ratio in zip(entry["points"], train_growth):
            lines.append(f"| {kind} | {entry['backend']} | {point['seq_len']} | {show(point['forward_s'])} | "
                         f"{show(point.get('train_s'))} | {show(ratio, '×')} | {show(point.get('train_peak_mib'))} "
                         f"({show(point['forward_peak_mib'])}) |")
    return "\n".join(lines)


def plot(results: dict, path: str | Path) -> Path:
    """Time and peak memory against tokens, log-log, one line per kind (dashed: forward only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, entry in results.items():
        points = entry["points"]
        if not points:
            continue
        train = all(p.get("train_s") is not None for p in points)
        key, style, label = ("train", "-", kind) if train else ("forward", "--", f"{kind} (forward only)")
        lengths = [p["seq_len"] for p in points]
        time_axis.plot(lengths, [p[f"{key}_s"] for p in points], style, marker="o", label=label)
        memory_axis.plot(lengths, [p[f"{key}_peak_mib"] for p in points], style, marker="o", label=label)
    for axis, ylabel in ((time_axis, "forward + backward time (s)"), (memory_axis, "peak memory over the step (MiB)")):
        axis.set_xscale("log", base=2)
        values = [y for line in axis.get_lines() for y in line.get_ydata()]
        axis.set_yscale("log" if values and min(values) > 0 else "linear")  # tiny runs may add no memory
        axis.set_xlabel("sequence length (tokens)")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.legend(fontsize=8)
    figure.suptitle(f"Attention stack ({WIDTH['num_hidden_layers']} layers, hidden {WIDTH['hidden_size']}, "
                    "batch 1), CPU", fontsize=10)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def write(results: dict, output: str | Path = OUTPUT, lengths=LENGTHS, repeats: int = 3,
          threads: int | None = THREADS) -> dict:
    """bench/attention_scaling.json (with the machine and versions) and the PNG next to it."""
    from . import write_results

    rows = to_rows(results)
    record = write_results(rows, output)
    record.update(width=WIDTH, batch=1, lengths=list(lengths), repeats=repeats, threads=threads, kinds=results)
    Path(output).write_text(json.dumps(record, indent=2))
    record["plot"] = str(plot(results, Path(output).with_suffix(".png")))
    return record


def to_rows(results: dict) -> list[dict]:
    """Rows for bench/results.json (`make bench`): one per kind and length (time of fwd+bwd, else forward)."""
    rows = []
    for kind, entry in results.items():
        for point in entry["points"]:
            train = point.get("train_s") is not None
            rows.append({"benchmark": "attention_scaling", "case": f"{kind} {point['seq_len']} tokens "
                         f"{'fwd+bwd' if train else 'forward only'} ({entry['backend']})",
                         "ours": point["train_s" if train else "forward_s"], "unit": "s", **point})
    return rows


def run(quick: bool = False, lengths=None, kinds=None, repeats: int | None = None, output: str | Path = OUTPUT,
        fresh_process: bool = True, threads: int | None = THREADS) -> list[dict]:
    """The suite's entry (`make bench`): `quick` measures 512 and 1024 tokens once each."""
    lengths = tuple(lengths or ((512, 1024) if quick else LENGTHS))
    repeats = repeats or (1 if quick else 3)
    unknown = [k for k in (kinds or ()) if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown attention kinds {unknown}; allowed: {', '.join(KINDS)}")
    results = measure(lengths, tuple(kinds or KINDS), repeats, fresh_process, threads)
    record = write(results, output, lengths, repeats, threads)
    print(table(results))
    print(f"plot: {record['plot']}")
    return record["rows"]


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hf_variants.bench.attention_scaling",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--threads", type=int, default=THREADS, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    run(lengths=args.lengths, kinds=args.kinds, repeats=args.repeats, output=args.output, threads=args.threads or None)


if __name__ == "__main__":
    main()
