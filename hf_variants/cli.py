"""The `hfv` command: a thin argument parser over the library."""

from __future__ import annotations

import argparse
import sys


def _list(args) -> int:
    import hf_variants

    rows = [("name", "family", "model_type", "native", "tokenizer", "objective")]
    for name, spec in hf_variants.VARIANTS.items():
        rows.append((name, spec.family, spec.model_type, spec.native_model_type or "-", spec.tokenizer, spec.objective))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _convert(args) -> int:
    from hf_variants.convert import convert_checkpoint

    model = convert_checkpoint(args.source, args.destination, overwrite=args.overwrite)
    print(f"{args.source} -> {args.destination} ({type(model).__name__})")
    return 0


def _bench(args) -> int:
    from hf_variants.bench import run_all

    run_all(quick=args.quick, output=args.output)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hfv", description="hf_variants: transformer variants on one core")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the variants table").set_defaults(func=_list)
    convert = commands.add_parser("convert", help="convert a checkpoint to/from its native transformers model")
    convert.add_argument("source", help="checkpoint directory (native or hf_variants)")
    convert.add_argument("destination", help="output directory (must be empty unless --overwrite)")
    convert.add_argument("--overwrite", action="store_true", help="replace a non-empty destination")
    convert.set_defaults(func=_convert)
    bench = commands.add_parser("bench", help="benchmarks side by side with native transformers")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--output", default="bench/results.json")
    bench.set_defaults(func=_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:
        print(f"hfv {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
