"""Variants side by side with native transformers at two sizes: training step, inference forward, peak memory and
cached generation.

For each variant and size our model is built from the variant's config and `to_native` gives the native model
holding the same weights (same dtype, same attention backend). Measured, ours and native interleaved, medians:

- train step: forward with labels, backward, AdamW step (and zero_grad)
- forward: inference forward under `torch.no_grad`, in eval mode
- peak memory of one training step (after one warm-up step, so AdamW's state exists): on CPU in a fresh
  subprocess per run (glibc's mmap threshold fixed at 128 KiB, so freed tensors leave the RSS), the peak resident
  set size (VmHWM, reset before the step) minus the RSS before it; on CUDA
  `torch.cuda.max_memory_allocated` minus the allocated memory before the step
- decoders: greedy `generate()` with the KV cache, new tokens per second at batch 1 and 8
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import torch

VARIANT_NAMES = ("bert", "gpt2", "llama", "t5", "bart", "mixtral", "switch")
DECODERS = ("gpt2", "llama", "mixtral")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Size:
    fields: dict
    batch: int
    seq_len: int
    prompt: int
    new_tokens: int
    repeats: int
    generate_repeats: int


SIZES = {
    # The test suite's scale: runs in seconds. Its steps take milliseconds, so many repeats keep scheduling noise out
    # of the medians.
    "tiny": Size(dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=128), batch=4, seq_len=32, prompt=8, new_tokens=16, repeats=30,
                 generate_repeats=15),
    # ~30-50M parameters (printed per variant in the results). Generation at this size is memory-bound: one call
    # moves by 5-15% with the load of the machine's neighbours, hence more calls than for the training step (with
    # six calls per side, the same code measured 0.86-1.11 of native in different processes).
    "small": Size(dict(vocab_size=32000, hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
                       intermediate_size=2048), batch=4, seq_len=128, prompt=16, new_tokens=32, repeats=5,
                  generate_repeats=9),
}
# Per variant and size: field overrides (encoder-decoders use 4 + 4 layers at "small"; SwiGLU width ~2/3).
OVERRIDES = {
    # GPT-2's default bos/eos id 50256 lies outside these vocabularies (refused by the config): use id 0.
    ("gpt2", "small"): dict(bos_token_id=0, eos_token_id=0),
    ("gpt2", "tiny"): dict(bos_token_id=0, eos_token_id=0),
    ("llama", "small"): dict(intermediate_size=1408, num_key_value_heads=4),
    ("llama", "tiny"): dict(num_key_value_heads=2),
    ("mixtral", "small"): dict(intermediate_size=704, num_hidden_layers=4, num_key_value_heads=4, num_experts=4),
    ("mixtral", "tiny"): dict(num_key_value_heads=2, num_experts=4),
    ("t5", "small"): dict(num_hidden_layers=4, num_decoder_layers=4, head_dim=64),
    ("t5", "tiny"): dict(head_dim=16),
    ("bart", "small"): dict(num_hidden_layers=4, num_decoder_layers=4),
    ("switch", "small"): dict(num_hidden_layers=4, num_decoder_layers=4, head_dim=64, num_experts=4),
    ("switch", "tiny"): dict(head_dim=16, num_experts=4),
}
HEADS = {"encoder": "ForMaskedLM", "decoder": "ForCausalLM", "encoder-decoder": "ForConditionalGeneration"}


def build_pair(name: str, size: str, device: str = "cpu", dtype: str = "fp32", attn: str = "sdpa", seed: int = 0,
               overrides: dict | None = None):
    """(ours, native) holding the same weights, in train mode without dropout or router jitter (random per run:
    with them the two sides would route, and so compute and allocate, differently), on `device` in `dtype`
    (`overrides`: config fields over the size's)."""
    import hf_variants
    from hf_variants.convert import to_native

    spec = hf_variants.VARIANTS[name]
    fields = {**SIZES[size].fields, **OVERRIDES.get((name, size), {}), "hidden_dropout_prob": 0.0,
              "attention_probs_dropout_prob": 0.0, "activation_dropout": 0.0, "router_jitter_noise": 0.0,
              **(overrides or {})}
    if name in ("t5", "switch", "bart"):  # T5/Switch have eager attention only natively; BART takes sdpa
        attn = attn if name == "bart" else "eager"
    torch.manual_seed(seed)
    config = spec.config_class(**fields)
    config._attn_implementation = attn
    ours = spec.classes[HEADS[spec.family]](config)
    native = to_native(ours)
    native.config._attn_implementation = attn
    if hasattr(native.config, "output_router_logits"):
        # native Mixtral adds its balancing loss only then, ours always does (native Switch reads only its forward
        # argument: `native_kwargs`)
        native.config.output_router_logits = True
    return [m.to(device=device, dtype=DTYPES[dtype]).train() for m in (ours, native)]


def make_batch(model, size: str, device: str = "cpu", seed: int = 1) -> dict:
    s = SIZES[size]
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, model.config.vocab_size, (s.batch, s.seq_len), generator=generator)
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if model.config.is_encoder_decoder:
        batch["labels"] = torch.randint(5, model.config.vocab_size, (s.batch, s.seq_len // 4), generator=generator)
    else:
        batch["labels"] = ids.clone()
    return {k: v.to(device) for k, v in batch.items()}


def native_kwargs(model) -> dict:
    """The forward arguments a native MoE model needs to add its router losses to the loss, as ours always does:
    `output_router_logits=True` (native Switch Transformers reads only this argument, not the config's field, so
    without it native's training step leaves out the z-loss and balancing loss and trains differently). {} for ours
    and for dense models."""
    from hf_variants.families.base import HfvPreTrainedModel

    if isinstance(model, HfvPreTrainedModel):
        return {}
    return {"output_router_logits": True} if "output_router_logits" in inspect.signature(model.forward).parameters \
        else {}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def train_step_fn(model, batch: dict, compile_model: bool = False):
    """One training step (forward with labels, backward, AdamW step); returns a callable returning the (detached)
    loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    forward = torch.compile(model) if compile_model else model
    inputs = {**batch, **native_kwargs(model)}

    def step() -> torch.Tensor:
        loss = forward(**inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()
    return step


def forward_fn(model, batch: dict, compile_model: bool = False):
    inputs = {**{k: v for k, v in batch.items() if k != "labels"}, **native_kwargs(model)}
    if model.config.is_encoder_decoder:
        inputs["decoder_input_ids"] = batch["labels"]
    forward = torch.compile(model) if compile_model else model

    def run():
        with torch.no_grad():
            forward(**inputs)
    return run


def generate_fn(model, size: str, batch_size: int, device: str):
    s = SIZES[size]
    prompt = torch.randint(5, model.config.vocab_size, (batch_size, s.prompt),
                           generator=torch.Generator().manual_seed(2)).to(device)

    def run():
        with torch.no_grad():
            model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=s.new_tokens,
                           min_new_tokens=s.new_tokens, do_sample=False, pad_token_id=0)
    return run


# The timer of `interleaved`: wall clock, or (`--cpu-time`, with one torch thread) this thread's CPU time, which
# other processes on a shared machine barely disturb.
CLOCK = {"timer": time.perf_counter}


def use_cpu_time() -> None:
    """Time by thread CPU time on one torch thread (CPU only): ratios stay stable on a loaded machine."""
    torch.set_num_threads(1)
    CLOCK["timer"] = time.thread_time


def interleaved(ours, native, repeats: int, device: str = "cpu") -> tuple[float, float]:
    """Medians of `repeats` timed runs of each, alternating ours and native, after one warm-up each."""
    timer = CLOCK["timer"]
    ours(), native()
    times: dict[str, list[float]] = {"ours": [], "native": []}
    for _ in range(repeats):
        for side, fn in (("ours", ours), ("native", native)):
            _sync(device)
            start = timer()
            fn()
            _sync(device)
            times[side].append(timer() - start)
    return statistics.median(times["ours"]), statistics.median(times["native"])


# --- peak memory ---------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def step_peak_memory_mib(step, device: str = "cpu") -> float:
    """Peak memory a training step adds over what is resident before it (MiB)."""
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets the peak RSS (VmHWM) to the current RSS
    before = _status_kib("VmRSS")
    step()
    return (_status_kib("VmHWM") - before) / 1024


def memory_run(name: str, size: str, side: str, dtype: str = "fp32", attn: str = "sdpa") -> float:
    """Build both models, keep `side`, warm up one step, measure the next one's peak (run in a fresh process)."""
    ours, native = build_pair(name, size, dtype=dtype, attn=attn)
    model = ours if side == "ours" else native
    del ours, native
    step = train_step_fn(model, make_batch(model, size))
    step()
    return step_peak_memory_mib(step)


def memory_env() -> dict:
    """The environment of a memory subprocess: this one's, this import path, glibc's mmap threshold fixed."""
    # A fixed glibc mmap threshold gives every allocation over 128 KiB its own mapping, returned on free: the RSS
    # peak then follows the live tensors. With glibc's default (a threshold that grows as large blocks are freed)
    # the peak also depends on how much freed heap the warm-up step left to reuse: Switch `small` measured
    # 409 / 240 MiB (ours / native) that way, against live-allocation peaks of 396 / 364 MiB.
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "MALLOC_MMAP_THRESHOLD_": "131072"}


def memory_in_subprocess(name: str, size: str, side: str, dtype: str, attn: str) -> float:
    code = ("import json, torch; from hf_variants.bench.variants import memory_run; "
            f"print(json.dumps(memory_run({name!r}, {size!r}, {side!r}, {dtype!r}, {attn!r})))")
    env = memory_env()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def interleaved_memory(name: str, size: str, repeats: int, dtype: str, attn: str) -> tuple[float, float]:
    runs: dict[str, list[float]] = {"ours": [], "native": []}
    for _ in range(repeats):
        for side in runs:
            runs[side].append(memory_in_subprocess(name, size, side, dtype, attn))
    return statistics.median(runs["ours"]), statistics.median(runs["native"])


# --- the suite -----------------------------------------------------------------------------------------------


def _row(name, size, case, ours, native, unit, extra=None) -> dict:
    digits = 5 if unit == "s" else 1
    return {"benchmark": "variants", "variant": name, "size": size, "case": case, "unit": unit,
            "ours": round(ours, digits), "native": round(native, digits), "ratio": round(ours / native, 3),
            **(extra or {})}


def bench_variant(name: str, size: str, device: str = "cpu", dtype: str = "fp32", compile_model: bool = False,
                  memory: bool = True, memory_repeats: int = 1, repeats: int | None = None,
                  attn: str = "sdpa") -> list[dict]:
    s = SIZES[size]
    repeats = repeats or s.repeats
    ours, native = build_pair(name, size, device, dtype, attn)
    params = sum(p.numel() for p in ours.parameters())
    shape = f"b{s.batch}x{s.seq_len}"
    tag = f"{dtype}, {ours.config._attn_implementation}" + (", compiled" if compile_model else "")
    info = {"params": params, "device": device, "dtype": dtype, "compile": compile_model}
    batch = make_batch(ours, size, device)
    rows = []
    o, n = interleaved(train_step_fn(ours, batch, compile_model), train_step_fn(native, batch, compile_model),
                       repeats, device)
    rows.append(_row(name, size, f"train step fwd+bwd+AdamW {shape} ({tag})", o, n, "s", info))
    ours.eval(), native.eval()  # inference: eval mode from here on (forward and generation)
    o, n = interleaved(forward_fn(ours, batch, compile_model), forward_fn(native, batch, compile_model),
                       repeats, device)
    rows.append(_row(name, size, f"inference forward {shape} ({tag})", o, n, "s", info))
    if name in DECODERS:
        for batch_size in (1, 8):
            o, n = interleaved(generate_fn(ours, size, batch_size, device), generate_fn(native, size, batch_size,
                               device), max(2, s.generate_repeats * repeats // s.repeats), device)
            tokens = batch_size * s.new_tokens
            # tokens/s: higher is better, so the ratio is native time / ours time as well
            rows.append(_row(name, size, f"generate tokens/s batch {batch_size} ({s.prompt}+{s.new_tokens}, "
                             f"{tag}, KV cache)", tokens / o, tokens / n, "tokens/s", info))
    if memory:
        if device.startswith("cuda"):
            del ours, native
            values = []
            for side in (0, 1):
                model = build_pair(name, size, device, dtype, attn)[side]
                step = train_step_fn(model, make_batch(model, size, device))
                step()
                values.append(step_peak_memory_mib(step, device))
                del model, step
                gc.collect()
                torch.cuda.empty_cache()
            o, n = values
        else:
            o, n = interleaved_memory(name, size, memory_repeats, dtype, attn)
        rows.append(_row(name, size, f"train step peak memory {shape} ({tag})", o, n, "MiB", info))
    return rows


def run(quick: bool = False, sizes=("tiny", "small"), variants=VARIANT_NAMES, device: str = "cpu",
        dtype: str = "fp32", compile_model: bool = False, memory: bool = True) -> list[dict]:
    """Every variant at every size; `quick`: tiny only, 2 repeats, no memory subprocesses."""
    for value, allowed, field in ((device.split(":")[0], ("cpu", "cuda"), "device"), (dtype, tuple(DTYPES), "dtype")):
        if value not in allowed:
            raise ValueError(f"{field}={value!r} is not supported; allowed: {', '.join(allowed)}")
    unknown = [v for v in variants if v not in VARIANT_NAMES] + [s for s in sizes if s not in SIZES]
    if unknown:
        raise ValueError(f"unknown variants/sizes {unknown}; allowed: {VARIANT_NAMES} and {tuple(SIZES)}")
    if quick:
        sizes, memory = ("tiny",), False
    rows = []
    for size in sizes:
        for name in variants:
            print(f"  {name} {size}", flush=True)
            with contextlib.redirect_stderr(open(os.devnull, "w")):
                new = bench_variant(name, size, device, dtype, compile_model, memory, repeats=2 if quick else None)
            for row in new:  # as they come: a long run that is stopped still leaves its finished rows
                print("    " + json.dumps(row), flush=True)
            rows += new
    return rows


def summary(rows: list[dict]) -> str:
    """One line per variant and size: the ratios the README shows."""
    table: dict[tuple[str, str], dict] = {}
    for row in rows:
        if row.get("benchmark") != "variants":
            continue
        cell = table.setdefault((row["variant"], row["size"]), {"params": row.get("params")})
        case = row["case"]
        key = ("train" if case.startswith("train step fwd") else "forward" if case.startswith("inference") else
               "memory" if "memory" in case else "gen1" if "batch 1 " in case else "gen8")
        cell[key] = row
    lines = ["| variant | size | params | train step ours/native | forward ours/native | peak memory MiB ours / "
             "native | generate tok/s b1 ours / native | b8 |", "|---|---|---|---|---|---|---|---|"]

    def fmt(cell, key, kind):
        row = cell.get(key)
        if row is None:
            return "–"
        if kind == "ratio":
            return f"{row['ratio']:.3f}"
        return f"{row['ours']:g} / {row['native']:g}"
    for (name, size), cell in table.items():
        lines.append(f"| {name} | {size} | {cell['params'] / 1e6:.1f}M | {fmt(cell, 'train', 'ratio')} | "
                     f"{fmt(cell, 'forward', 'ratio')} | {fmt(cell, 'memory', 'pair')} | {fmt(cell, 'gen1', 'pair')} | "
                     f"{fmt(cell, 'gen8', 'pair')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """`python -m hf_variants.bench.variants [--sizes tiny small] [--device cuda --dtype bf16 --compile]`."""
    import argparse

    from . import write_results

    parser = argparse.ArgumentParser(prog="python -m hf_variants.bench.variants", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), choices=list(VARIANT_NAMES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cpu-time", action="store_true", help="time by thread CPU time on one thread (CPU only)")
    parser.add_argument("--output", default="bench/results.json")
    args = parser.parse_args(argv)
    if args.cpu_time:
        use_cpu_time()
    rows = run(args.quick, args.sizes, args.variants, args.device, args.dtype, args.compile, not args.no_memory)
    result = write_results(rows, args.output)
    print(summary(rows))
    return result


if __name__ == "__main__":
    main()
