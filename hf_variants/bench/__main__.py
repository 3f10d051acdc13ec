"""`python -m hf_variants.bench`: run the benchmark suites (all, or `--only` some) and write bench/results.json."""

import argparse

from . import SUITES, run_all

parser = argparse.ArgumentParser(prog="python -m hf_variants.bench", description="hf_variants vs native benchmarks")
parser.add_argument("--quick", action="store_true", help="fewer repeats and cases")
parser.add_argument("--only", nargs="*", choices=SUITES, help="run only these suites")
parser.add_argument("--output", default="bench/results.json")
parser.add_argument("--sizes", nargs="+", default=["tiny", "small"], help="variants suite: tiny and/or small")
parser.add_argument("--device", default="cpu", help="variants suite: cpu or cuda")
parser.add_argument("--dtype", default="fp32", choices=("fp32", "bf16", "fp16"), help="variants suite")
parser.add_argument("--compile", action="store_true", help="variants suite: torch.compile both models")
args = parser.parse_args()
run_all(quick=args.quick, output=args.output, only=args.only, sizes=tuple(args.sizes), device=args.device,
        dtype=args.dtype, compile_model=args.compile)
