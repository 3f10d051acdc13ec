"""The benchmark suite (`make bench`, `hfv bench`): hf_variants side by side with native transformers."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import platform
from datetime import date
from pathlib import Path

import torch

# Benchmark modules, each with `run(quick: bool) -> list[dict]`; missing ones are skipped.
SUITES = ("models", "variants", "tokenizers", "moe", "attention_scaling", "instructions")


def run_all(quick: bool = False, output: str | Path = "bench/results.json", only: list[str] | None = None,
            **options) -> dict:
    """Every suite (or `only` those); `options` (device, dtype, compile_model, sizes, ...) go to the suites whose
    `run` takes them."""
    rows = []
    for name in SUITES:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            continue
        print(f"== {name}", flush=True)
        accepted = inspect.signature(module.run).parameters
        rows += module.run(quick=quick, **{k: v for k, v in options.items() if k in accepted})
    result = write_results(rows, output)
    print(format_table(rows))
    return result


def write_results(rows: list[dict], output: str | Path = "bench/results.json") -> dict:
    """bench/results.json: the rows with the date, machine and library versions."""
    import transformers

    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda_device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "rows": rows,
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"written to {output}")
    return result


def format_table(rows: list[dict]) -> str:
    lines = ["| benchmark | case | ours | native | ours / native |", "|---|---|---|---|---|"]
    for row in rows:
        case = row.get("case") or row.get("kind") or ""
        if "native_eager_s" in row:
            case += f" (native eager {row['native_eager_s']} s)"
        if "variant" in row:
            case = f"{row['variant']} {row['size']} {case}"
        unit = row.get("unit", "s")
        ours, native = row.get("ours", row.get("ours_s", "")), row.get("native", row.get("native_s", ""))
        lines.append(f"| {row['benchmark']} | {case} | {ours} {unit} | {native} {unit} | {row.get('ratio', '')} |")
    return "\n".join(lines)
