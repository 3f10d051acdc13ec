"""GPU benchmark and correctness pass in one command (< 10 minutes on an H100/H200):

    python scripts/gpu_bench.py [--output gpu_bench.json] [--budget-s 540]

1. correctness: every variant with a native counterpart, on CUDA in bf16 with sdpa, eager and flex attention:
   logits of a padded batch, the loss and its gradients, and cached greedy `generate()` against the native model
   holding the same weights (bf16 tolerance); the embeddings' input-id checks run without a host synchronisation
   (`torch.cuda.set_sync_debug_mode("error")`).
2. throughput: bf16 training (forward, backward, fused AdamW) of hfv_llama at ~125M and ~350M parameters, sdpa,
   with and without `torch.compile`, next to native `LlamaForCausalLM` on the same weights; tokens/s and MFU from
   hf_variants.accounting (causal attention counted as the lower triangle; `mfu_dense` counts every pair, PaLM's
   convention) against the device's dense bf16 peak (`--peak-tflops`, else the known peak).
3. memory: peak memory of the causal-LM loss step, plain logits vs the chunked LM-head loss (32k vocabulary).

Items run in order of importance and are skipped (and listed as such) once `--budget-s` is spent.
`--device cpu` runs a tiny version of everything (a smoke test of the script itself).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hf_variants  # noqa: E402
from hf_variants.accounting import account  # noqa: E402
from hf_variants.bench.variants import native_kwargs  # noqa: E402
from hf_variants.convert import to_native  # noqa: E402
from hf_variants.training.throughput import known_peak_tflops  # noqa: E402
from tests.variant_configs import TEST_VARIANTS, tiny_config  # noqa: E402

LLAMA_SIZES = {
    "125M": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=12,
                 intermediate_size=2048),
    "350M": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, num_key_value_heads=16,
                 intermediate_size=2816),
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128),
}
HEADS = {"encoder": "ForMaskedLM", "decoder": "ForCausalLM", "encoder-decoder": "ForConditionalGeneration"}
BACKENDS = ("sdpa", "eager", "flex_attention")


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# --- 1. correctness ------------------------------------------------------------------------------------------


def _pair(name: str, attn: str, device: str, dtype: torch.dtype):
    spec = hf_variants.VARIANTS[name]
    torch.manual_seed(0)
    # intermediate 64: expert weights meet grouped_mm's 16-byte alignment on every dtype (native Mixtral's default)
    config = tiny_config(name, attn_implementation=attn, intermediate_size=64)
    ours = spec.classes[HEADS[spec.family]](config).eval()
    native = to_native(ours).eval()
    native.config._attn_implementation = attn
    return ours.to(device, dtype), native.to(device, dtype)


def _inputs(model, device: str) -> dict:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size, (2, 12), generator=generator)
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding on the second row
    ids[1, :3] = model.config.pad_token_id or 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    if model.config.is_encoder_decoder:
        inputs["labels"] = torch.randint(3, model.config.vocab_size, (2, 6), generator=generator)
    else:
        inputs["labels"] = ids.masked_fill(mask == 0, -100)
    return {k: v.to(device) for k, v in inputs.items()}


def check_variant(name: str, attn: str, device: str, dtype: torch.dtype) -> dict:
    ours, native = _pair(name, attn, device, dtype)
    inputs = _inputs(ours, device)
    real = inputs["attention_mask"].bool()
    out_ours, out_native = ours(**inputs), native(**inputs, **native_kwargs(native))  # MoE: router losses too
    logits_ours, logits_native = out_ours.logits.detach().float(), out_native.logits.detach().float()
    if not ours.config.is_encoder_decoder:
        logits_ours, logits_native = logits_ours[real], logits_native[real]
    result = {"variant": name, "attn": attn,
              "max_abs_logits": float((logits_ours - logits_native).abs().max()),
              "loss_ours": out_ours.loss.item(), "loss_native": out_native.loss.item()}
    out_ours.loss.backward()
    out_native.loss.backward()
    grads_ours = torch.cat([p.grad.float().flatten() for p in ours.parameters() if p.grad is not None])
    grads_native = torch.cat([p.grad.float().flatten() for p in native.parameters() if p.grad is not None])
    result["grad_norm_rel_diff"] = float((grads_ours.norm() - grads_native.norm()).abs() / grads_native.norm())
    if hasattr(ours, "generate"):  # decoders and encoder-decoders: cached greedy decoding
        prompt = {k: v for k, v in inputs.items() if k != "labels"}
        with torch.no_grad():
            generated = [m.generate(**prompt, max_new_tokens=8, do_sample=False, pad_token_id=0)
                         for m in (ours, native)]
        result["generate_equal_tokens"] = float((generated[0] == generated[1]).float().mean())
    if device == "cuda":  # the input checks must not wait for the device
        embeddings = ours.get_input_embeddings()
        module = getattr(ours.base_model, "embeddings", None)
        torch.cuda.set_sync_debug_mode("error")
        try:
            if module is not None and getattr(module, "word_embeddings", None) is embeddings:
                module(inputs["input_ids"])
            result["input_check_no_sync"] = True
        except RuntimeError as error:
            result["input_check_no_sync"] = False
            result["sync_error"] = str(error).splitlines()[0]
        finally:
            torch.cuda.set_sync_debug_mode("default")
    scale = max(1.0, float(logits_native.abs().max()))
    tolerance = 0.05 if dtype == torch.bfloat16 else 1e-4
    loss_close = abs(result["loss_ours"] - result["loss_native"]) <= tolerance * max(1.0, abs(result["loss_native"]))
    result["ok"] = bool(result["max_abs_logits"] <= tolerance * scale and loss_close
                        and result["grad_norm_rel_diff"] < 0.05 and result.get("input_check_no_sync", True))
    return result


def correctness(device: str, dtype: torch.dtype, budget: Budget, backends=BACKENDS, names=None) -> list[dict]:
    rows = []
    names = names or [n for n in TEST_VARIANTS if hf_variants.VARIANTS[n].native_model_type]
    for attn in backends:
        for name in names:
            if budget.left() < 0:
                rows.append({"variant": name, "attn": attn, "skipped": "budget"})
                continue
            try:
                rows.append(check_variant(name, attn, device, dtype))
            except Exception as error:  # one failing case must not hide the others
                rows.append({"variant": name, "attn": attn, "ok": False, "error": repr(error)[:300],
                             "trace": traceback.format_exc(limit=3)[-600:]})
    return rows


# --- 2. throughput -------------------------------------------------------------------------------------------


def llama_pair(size: str, device: str, dtype: torch.dtype, vocab_size: int = 32000):
    spec = hf_variants.VARIANTS["llama"]
    torch.manual_seed(0)
    config = spec.config_class(vocab_size=vocab_size, max_position_embeddings=4096, hidden_dropout_prob=0.0,
                               attention_probs_dropout_prob=0.0, tie_word_embeddings=False, **LLAMA_SIZES[size])
    config._attn_implementation = "sdpa"
    ours = spec.classes["ForCausalLM"](config)
    native = to_native(ours)
    return ours.to(device, dtype).train(), native.to(device, dtype).train()


def throughput(size: str, compile_model: bool, device: str, dtype: torch.dtype, batch: int, seq_len: int,
               steps: int, peak_tflops: float | None) -> dict:
    ours, native = llama_pair(size, device, dtype)
    flops = batch * account(ours, seq_len).training_flops
    flops_dense = batch * account(ours, seq_len, dense_attention=True).training_flops
    ids = torch.randint(5, 32000, (batch, seq_len), generator=torch.Generator().manual_seed(0)).to(device)
    result = {"size": size, "params": sum(p.numel() for p in ours.parameters()), "compile": compile_model,
              "batch": batch, "seq_len": seq_len, "model_flops_per_step": flops}
    runners = {}
    for side, model in (("ours", ours), ("native", native)):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
        forward = torch.compile(model) if compile_model else model

        def step(forward=forward, optimizer=optimizer):
            forward(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        for _ in range(3):  # warm-up (and compilation)
            step()
        _sync(device)
        result[f"{side}_warmup_s"] = round(time.perf_counter() - start, 2)
        runners[side] = step
    times = {"ours": [], "native": []}
    for _ in range(steps):  # interleaved
        for side, step in runners.items():
            _sync(device)
            start = time.perf_counter()
            step()
            _sync(device)
            times[side].append(time.perf_counter() - start)
    for side, values in times.items():
        seconds = statistics.median(values)
        result[f"{side}_step_s"] = round(seconds, 5)
        result[f"{side}_tokens_per_s"] = round(batch * seq_len / seconds)
        result[f"{side}_model_tflops_per_s"] = round(flops / seconds / 1e12, 2)
        if peak_tflops:
            result[f"{side}_mfu"] = round(flops / seconds / (peak_tflops * 1e12), 4)
            result[f"{side}_mfu_dense"] = round(flops_dense / seconds / (peak_tflops * 1e12), 4)
    result["ratio_ours_native_time"] = round(result["ours_step_s"] / result["native_step_s"], 3)
    del ours, native, runners
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


# --- 3. chunked-loss memory ------------------------------------------------------------------------------------


def chunked_memory(device: str, dtype: str, batch: int, seq_len: int, size: str) -> dict:
    from hf_variants.bench.chunked_loss import measure

    options = dict(size=size, batch=batch, seq_len=seq_len, chunk_size=4096 if device == "cuda" else 64,
                   device=device, dtype=dtype, vocab_size=32000 if device == "cuda" else 1000)
    plain, chunked = measure("plain", **options), measure("chunked", **options)
    return {**options, "plain_mib": round(plain, 1), "chunked_mib": round(chunked, 1),
            "drop_mib": round(plain - chunked, 1)}


# --- main ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cuda", "cpu"))
    parser.add_argument("--output", default="gpu_bench.json")
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting new items after this")
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak (default: known for H100/H200/A100)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--variants", nargs="+", help="correctness pass: only these variants")
    args = parser.parse_args(argv)
    budget = Budget(args.budget_s)
    gpu = args.device == "cuda"
    dtype = torch.bfloat16 if gpu else torch.float32
    peak = args.peak_tflops or (known_peak_tflops() if gpu else None)
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": args.device,
              "device_name": torch.cuda.get_device_name() if gpu else "cpu", "torch": torch.__version__,
              "transformers": __import__("transformers").__version__, "peak_tflops": peak,
              "command": " ".join(["python", "scripts/gpu_bench.py", *(argv if argv is not None else sys.argv[1:])])}
    print(json.dumps(report), flush=True)
    # Throughput first (the headline), then correctness, then memory; each skipped once the budget is spent.
    plan = [("350M", True), ("350M", False), ("125M", True), ("125M", False)] if gpu else [("tiny", False)]
    batch, seq_len, steps = (args.batch, args.seq_len, args.steps) if gpu else (2, 32, 2)
    report["throughput"] = []
    for size, compile_model in plan:
        if budget.left() < (150 if compile_model else 45):
            report["throughput"].append({"size": size, "compile": compile_model, "skipped": "budget"})
            continue
        try:
            row = throughput(size, compile_model, args.device, dtype, batch, seq_len, steps, peak)
        except Exception as error:
            row = {"size": size, "compile": compile_model, "error": repr(error)[:300]}
        report["throughput"].append(row)
        print(json.dumps(row), flush=True)
        Path(args.output).write_text(json.dumps(report, indent=2))
    backends = BACKENDS if gpu else ("sdpa", "eager")
    with contextlib.redirect_stderr(sys.stdout if gpu else open("/dev/null", "w")):
        report["correctness"] = correctness(args.device, dtype, budget, backends, args.variants)
    failures = [r for r in report["correctness"] if r.get("ok") is False]
    print(json.dumps({"correctness_cases": len(report["correctness"]), "failures": failures}), flush=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    if budget.left() > 20:
        try:
            report["chunked_loss_memory"] = chunked_memory(args.device, "bf16" if gpu else "fp32",
                                                           8 if gpu else 2, 2048 if gpu else 16,
                                                           "small" if gpu else "tiny")
        except Exception as error:
            report["chunked_loss_memory"] = {"error": repr(error)[:300]}
        print(json.dumps(report["chunked_loss_memory"]), flush=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    return report


if __name__ == "__main__":
    main()
