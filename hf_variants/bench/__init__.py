"""The benchmark suite (`make bench`, `hfv bench`): hf_variants side by side with native transformers."""

from __future__ import annotations

import importlib
import json
import platform
from datetime import date
from pathlib import Path

import torch

# Benchmark modules, each with `run(quick: bool) -> list[dict]`; missing ones are skipped.
SUITES = ("models", "tokenizers", "moe")


def run_all(quick: bool = False, output: str | Path = "bench/results.json", only: list[str] | None = None) -> dict:
    rows = []
    for name in SUITES:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            continue
        print(f"== {name}", flush=True)
        rows += module.run(quick=quick)
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} threads".strip(),
        "torch": torch.__version__,
        "rows": rows,
    }
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(format_table(rows))
    print(f"written to {output}")
    return result


def format_table(rows: list[dict]) -> str:
    lines = ["| benchmark | case | ours (s) | native (s) | ours / native |", "|---|---|---|---|---|"]
    for row in rows:
        case = row.get("case") or row.get("kind") or ""
        if "native_eager_s" in row:
            case += f" (native eager {row['native_eager_s']} s)"
        lines.append(f"| {row['benchmark']} | {case} | {row.get('ours_s', '')} | {row.get('native_s', '')} | "
                     f"{row.get('ratio', '')} |")
    return "\n".join(lines)
