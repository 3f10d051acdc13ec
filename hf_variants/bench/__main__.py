import argparse

from . import SUITES, run_all

parser = argparse.ArgumentParser(prog="python -m hf_variants.bench", description="hf_variants vs native benchmarks")
parser.add_argument("--quick", action="store_true", help="fewer repeats and cases")
parser.add_argument("--only", nargs="*", choices=SUITES, help="run only these suites")
parser.add_argument("--output", default="bench/results.json")
args = parser.parse_args()
run_all(quick=args.quick, output=args.output, only=args.only)
