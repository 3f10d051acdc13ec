"""Instructions per training step and per generated token, ours against native, counted by valgrind's callgrind.

Timings on a shared CPU move by 5-15% between runs, more than the gaps being measured (the same-code A/A spread
is as wide), and at `small` the memory-bound matmuls vary with the neighbours' load. The instructions a step
executes do not: with the cyclic garbage collector held off during a counted run (it starts when allocations add
up, whichever step that is), two runs give the same counts to the instruction. Our steps run the same torch
operators on the same shapes as native's (torch.profiler: 574 per LLaMA `tiny` decode step on both sides, 2,001 per
training step), so what differs is the Python around them, and the count measures exactly that.

At the `tiny` size one subprocess runs under `valgrind --tool=callgrind --instr-atstart=no`. For each variant it
builds the pair (`variants.build_pair`, same weights) and counts, per side:
- one training step (forward with labels, backward, AdamW; after two uncounted ones, so AdamW's state exists);
- decoders: greedy `generate()` of `SHORT` and of `LONG` new tokens at batch 1 and 8; (long - short) /
  (LONG - SHORT) is the cost of one decode step, prefill and set-up cancelled.
Counting is switched on and off from Python through callgrind's client requests, in a four-function C library
compiled here (no Python package exposes them).

Needs valgrind, its headers (Debian's `valgrind` package) and a C compiler; `available()` says whether they are
here. `python -m hf_variants.bench.instructions [--variants ...]`.
"""

from __future__ import annotations

import functools
import gc
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .variants import DECODERS, SIZES, VARIANT_NAMES

SHORT, LONG = 2, 6
BATCH_SIZES = (1, 8)
SIDES = ("ours", "native")
# Counted at `tiny`, where the Python around the operators is a visible share of a step. At `small` the count is
# the matmuls', equal on both sides by construction, and ~50x slower to take (GPT-2's generation alone ran > 7 min).
SIZES_COUNTED = ("tiny",)
HEADER = "/usr/include/valgrind/callgrind.h"
_CLIENT_SOURCE = """#include <valgrind/callgrind.h>
void start(void) { CALLGRIND_START_INSTRUMENTATION; }
void stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
void zero(void) { CALLGRIND_ZERO_STATS; }
void dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""
_DUMP_NAME = "desc: Trigger: Client Request: "  # how callgrind heads a dump asked for by name


def available() -> str | None:
    """None when callgrind can count here, else what is missing."""
    missing = [tool for tool in ("valgrind", "cc") if shutil.which(tool) is None]
    if not os.path.exists(HEADER):
        missing.append(HEADER)
    return f"needs {', '.join(missing)}" if missing else None


def client_library(folder: str) -> str:
    """Compile the client-request library into `folder`; its path."""
    source, library = os.path.join(folder, "callgrind_client.c"), os.path.join(folder, "libcallgrind_client.so")
    Path(source).write_text(_CLIENT_SOURCE)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", source, "-o", library], check=True)
    return library


def _count(counter, name: str, run) -> None:
    """Count one `run()` into a dump called `name` (counting is on: the caller ran it once since switching on,
    as callgrind translates the code anew then)."""
    gc.collect()  # the cyclic collector runs when allocations add up: inside a counted step it would add its work
    gc.disable()
    try:
        counter.zero()
        run()
        counter.dump(name.encode())
    finally:
        gc.enable()


def child(library: str, size: str, names: list[str]) -> None:
    """Run inside callgrind: count each variant's training step and, for decoders, generation."""
    import contextlib
    import ctypes

    import torch

    counter = ctypes.CDLL(library)
    torch.set_num_threads(1)
    # transformers' notices (generation config, loss type) go nowhere: one handle, opened outside the counted runs
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        _count_variants(counter, size, names)


def _count_variants(counter, size: str, names: list[str]) -> None:
    """Per variant: its training step, then (decoders) generation at SHORT and LONG new tokens, each side."""
    import torch

    from .variants import build_pair, make_batch, train_step_fn

    for name in names:
        pair = build_pair(name, size)
        batch = make_batch(pair[0], size)
        for side, model in zip(SIDES, pair):
            step = train_step_fn(model, batch)
            step()  # lazy imports, AdamW's state: uncounted
            counter.start()
            step()
            _count(counter, f"{name} train {side}", step)
            counter.stop()
        if name not in DECODERS:
            continue
        for model in pair:
            model.eval()
        for batch_size in BATCH_SIZES:
            prompt = torch.randint(5, pair[0].config.vocab_size, (batch_size, SIZES[size].prompt),
                                   generator=torch.Generator().manual_seed(2))

            def generate(model, new_tokens: int) -> None:
                with torch.no_grad():
                    model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                                   min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
            for side, model in zip(SIDES, pair):
                generate(model, SHORT)
                counter.start()
                generate(model, SHORT)
                for new_tokens in (SHORT, LONG):
                    _count(counter, f"{name} generate {batch_size} {new_tokens} {side}",
                           functools.partial(generate, model, new_tokens))
                counter.stop()


def _totals(prefix: str) -> dict[str, int]:
    """Dump name -> instructions, from callgrind's output files."""
    totals = {}
    for path in glob.glob(prefix + "*"):
        name = total = None
        with open(path) as dump:
            for line in dump:
                if line.startswith(_DUMP_NAME):
                    name = line[len(_DUMP_NAME):].strip()
                elif line.startswith("summary:"):
                    total = int(line.split()[1])
        if name is not None and total is not None:
            totals[name] = total
    return totals


def measure(size: str, names=VARIANT_NAMES) -> list[dict]:
    """Rows: instructions per training step of every variant in `names`, per generated token of the decoders."""
    from .variants import _row

    with tempfile.TemporaryDirectory() as folder:
        library = client_library(folder)
        prefix = os.path.join(folder, "callgrind.out")
        code = f"from hf_variants.bench.instructions import child; child({library!r}, {size!r}, {list(names)!r})"
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={prefix}.%p",
                        sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True)
        totals = _totals(prefix)

    def row(name, case, ours, native):
        return {**_row(name, size, f"{case} (callgrind, fp32, sdpa)", ours, native, "instructions"),
                "benchmark": "instructions"}
    rows = []
    for name in names:
        rows.append(row(name, "train step instructions", *(totals[f"{name} train {side}"] for side in SIDES)))
        if name in DECODERS:
            for batch_size in BATCH_SIZES:
                per_token = [(totals[f"{name} generate {batch_size} {LONG} {side}"] -
                              totals[f"{name} generate {batch_size} {SHORT} {side}"]) / (LONG - SHORT)
                             for side in SIDES]
                rows.append(row(name, f"generate instructions per token batch {batch_size}", *per_token))
    return rows


def run(quick: bool = False, sizes=("tiny",), variants=VARIANT_NAMES) -> list[dict]:
    """Every variant at `tiny` (`make bench` passes its sizes: `small` is skipped, see SIZES_COUNTED; `quick`: LLaMA
    only); no rows, with the reason printed, without valgrind."""
    missing = available()
    if missing:
        print(f"  instructions: skipped ({missing})")
        return []
    variants = ("llama",) if quick else variants
    rows = []
    for size in [size for size in sizes if size in SIZES_COUNTED]:
        print(f"  {size}: {' '.join(variants)}", flush=True)
        new = measure(size, variants)
        for new_row in new:
            print("    " + json.dumps(new_row), flush=True)
        rows += new
    return rows


def main(argv: list[str] | None = None) -> dict:
    import argparse

    from . import format_table, write_results

    parser = argparse.ArgumentParser(prog="python -m hf_variants.bench.instructions", description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), choices=list(VARIANT_NAMES))
    parser.add_argument("--output", default="bench/instructions.json")
    args = parser.parse_args(argv)
    rows = run(variants=args.variants)
    result = write_results(rows, args.output)
    print(format_table(rows))
    return result


if __name__ == "__main__":
    main()
