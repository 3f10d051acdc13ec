"""Peak training memory of the LM loss: plain logits + cross-entropy vs `config.loss_chunk_size` on hfv_llama.

One forward + backward of the causal LM head with labels (plain, or chunked by the config field) per fresh subprocess,
on CPU the peak RSS over the step (VmHWM reset before it), on CUDA `max_memory_allocated`; both minus what was
resident before. `python -m hf_variants.bench.chunked_loss [--size small] [--tokens 4x512] [--device cuda]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

import torch

from .variants import DTYPES, SIZES, build_pair, step_peak_memory_mib


def loss_step(model, ids: torch.Tensor, path: str, chunk_size: int):
    """forward + backward of the causal LM head's loss in training: "plain" (full logits) or "chunked"
    (`config.loss_chunk_size = chunk_size`)."""
    model.config.loss_chunk_size = chunk_size if path == "chunked" else None

    def step():
        model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
        model.zero_grad(set_to_none=False)  # keep the gradient buffers: both paths then hold the same
    return step


def measure(path: str, size: str = "small", batch: int = 4, seq_len: int = 512, chunk_size: int = 1024,
            device: str = "cpu", dtype: str = "fp32", vocab_size: int = 32000) -> float:
    """Peak MiB one loss step adds (in this process: call it in a fresh one on CPU)."""
    ours, native = build_pair("llama", size, device, dtype, overrides={"vocab_size": vocab_size})
    del native
    gc.collect()
    ids = torch.randint(5, vocab_size, (batch, seq_len), generator=torch.Generator().manual_seed(0)).to(device)
    step = loss_step(ours, ids, path, chunk_size)
    step()  # warm-up: gradient buffers exist before the measured step
    return step_peak_memory_mib(step, device)


def measure_in_subprocess(path: str, **options) -> float:
    code = ("import json; from hf_variants.bench.chunked_loss import measure; "
            f"print(json.dumps(measure({path!r}, **{options!r})))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m hf_variants.bench.chunked_loss", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="small", choices=list(SIZES))
    parser.add_argument("--tokens", default="4x512", help="BATCHxLENGTH")
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    batch, seq_len = (int(v) for v in args.tokens.split("x"))
    options = dict(size=args.size, batch=batch, seq_len=seq_len, chunk_size=args.chunk_size, device=args.device,
                   dtype=args.dtype, vocab_size=args.vocab_size)
    result = {"options": options, "plain_mib": [], "chunked_mib": []}
    for _ in range(args.repeats):
        for path in ("plain", "chunked"):
            value = measure_in_subprocess(path, **options) if args.device == "cpu" else measure(path, **options)
            result[f"{path}_mib"].append(round(value, 1))
    plain, chunked = min(result["plain_mib"]), min(result["chunked_mib"])
    result["drop_mib"] = round(plain - chunked, 1)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
