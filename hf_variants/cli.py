"""The `hfv` command: a thin argument parser over the library."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _list(args) -> int:
    import hf_variants
    from hf_variants.tokenization import TOKENIZER_KINDS

    rows = [("name", "family", "model_type", "native", "tokenizer", "objective")]
    for name, spec in hf_variants.VARIANTS.items():
        rows.append((name, spec.family, spec.model_type, spec.native_model_type or "-", TOKENIZER_KINDS[name],
                     spec.objective))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _convert(args) -> int:
    from hf_variants.convert import convert_checkpoint

    if args.to:
        model_type = json.loads((Path(args.source) / "config.json").read_text()).get("model_type", "")
        if (args.to == "native") != model_type.startswith("hfv_"):
            raise ValueError(f"--to {args.to}: {args.source} has model_type {model_type!r}, already "
                             f"{'native' if args.to == 'native' else 'an hf_variants model'}")

    model = convert_checkpoint(args.source, args.destination, overwrite=args.overwrite, variant=args.variant)
    print(f"{args.source} -> {args.destination} ({type(model).__name__})")
    return 0


def _pretrain(args) -> int:
    from hf_variants.training import pretrain

    metrics = pretrain(args.variant, args.output, size=args.size, data=args.data, steps=args.steps,
                       tokenizer=args.tokenizer, batch_size=args.batch_size, learning_rate=args.learning_rate,
                       resume=args.resume, overwrite=args.overwrite, seed=args.seed, max_examples=args.max_examples,
                       teacher=args.teacher, peak_tflops=args.peak_tflops)
    print(json.dumps(metrics, indent=2, default=float))
    return 0


def _finetune(args) -> int:
    from hf_variants.training import finetune

    metrics = finetune(args.model_dir, args.task, args.output, data=args.data, steps=args.steps,
                       batch_size=args.batch_size, learning_rate=args.learning_rate, max_length=args.max_length,
                       resume=args.resume, overwrite=args.overwrite, seed=args.seed, peak_tflops=args.peak_tflops)
    print(json.dumps(metrics, indent=2, default=float))
    return 0


def _add_run_options(parser: argparse.ArgumentParser, learning_rate: float) -> None:
    parser.add_argument("--output", required=True, help="output folder (checkpoint, tokenizer, metrics, curve)")
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=learning_rate)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --output")
    parser.add_argument("--peak-tflops", type=float,
                        help="accelerator peak TFLOP/s: adds model FLOPs utilisation (MFU) to metrics.json")


def _bench(args) -> int:
    from hf_variants.bench import run_all

    run_all(quick=args.quick, output=args.output)
    return 0


def _export(args) -> int:
    from hf_variants.hub import export_remote_code

    files = export_remote_code(args.directory)
    print(f"{args.directory}: {len(files)} remote-code files and auto_map written "
          "(loads with trust_remote_code=True without hf_variants)")
    return 0


def _add_export(commands) -> None:
    export = commands.add_parser("export", help="write the flat remote code of a checkpoint folder in place")
    export.add_argument("directory", help="a saved hf_variants checkpoint (config.json and/or tokenizer)")
    export.set_defaults(func=_export)


def _push(args) -> int:
    from hf_variants.hub.push import push

    for line in push(args.directory, args.repo_id, private=args.private, revision=args.revision,
                     dry_run=args.dry_run):
        print(line)
    return 0


def _add_push(commands) -> None:
    push = commands.add_parser("push", help="upload a checkpoint folder as a complete Hub repository")
    push.add_argument("directory", help="a saved hf_variants checkpoint folder")
    push.add_argument("--repo-id", required=True, help="ORG/NAME on the endpoint (HF_ENDPOINT, default the Hub)")
    push.add_argument("--private", action="store_true", help="create the repository private")
    push.add_argument("--revision", help="branch to commit to (created if missing)")
    push.add_argument("--dry-run", action="store_true", help="list the files and sizes that would be uploaded")
    push.set_defaults(func=_push)


def _add_version(parser: argparse.ArgumentParser) -> None:
    from importlib.metadata import version

    import transformers

    from hf_variants import __version__

    parser.add_argument("--version", action="version", version=f"hfv (hf_variants) {__version__}; transformers "
                        f"{transformers.__version__}, torch {version('torch')}")


def _flops(args) -> int:
    from hf_variants.accounting import account, load_config, model_for_config

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE (VALUE as JSON, e.g. num_experts=8)")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    config = load_config(args.config, overrides)
    model = model_for_config(config, args.head)
    report = account(model, args.seq_len, args.target_len, args.dense_attention, args.memory_len, args.batch_size)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    print(f"{config.model_type}: {report.params:,} parameters ({report.active_params:,} active per token), "
          f"sequence length {report.seq_len}" + (f", decoder length {report.target_len}" if report.target_len else ""))
    print(report.table())
    trainer_estimate = 6 * model.num_parameters(exclude_embeddings=True)
    print(f"training FLOPs per token: {report.training_flops / report.tokens:,.0f} (transformers Trainer's "
          f"6 x non-embedding parameters estimate: {trainer_estimate:,})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hfv", description="hf_variants: transformer variants on one core")
    _add_version(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the variants table").set_defaults(func=_list)
    convert = commands.add_parser("convert", help="convert a checkpoint to/from its native transformers model")
    convert.add_argument("source", help="checkpoint directory (native or hf_variants)")
    convert.add_argument("destination", help="output directory (must be empty unless --overwrite)")
    convert.add_argument("--overwrite", action="store_true", help="replace a non-empty destination")
    convert.add_argument("--variant", help="target variant when several share the native type (e.g. byt5 for t5)")
    convert.add_argument("--to", choices=("native", "hf_variants"),
                         help="expected direction (checked against the source's model_type)")
    convert.set_defaults(func=_convert)
    pre = commands.add_parser("pretrain", help="train a tokenizer and pretrain a variant with its own objective")
    pre.add_argument("variant", help="variant name (see `hfv list`)")
    pre.add_argument("--size", choices=("tiny", "small", "base"), default="tiny")
    pre.add_argument("--data", default="shakespeare", help="shakespeare, movie_reviews, a local file, or a hub name")
    pre.add_argument("--tokenizer", help="an existing tokenizer folder (default: train one on --data)")
    pre.add_argument("--max-examples", type=int, help="use only the first N training texts")
    pre.add_argument("--teacher", help="distilbert only: a pretrained BERT folder to distil from")
    _add_run_options(pre, 1e-3)
    pre.set_defaults(func=_pretrain)
    fine = commands.add_parser("finetune", help="fine-tune a saved model on a task")
    fine.add_argument("model_dir", help="a folder written by `hfv pretrain` (or any hf_variants checkpoint)")
    fine.add_argument("--task", required=True,
                      choices=("classification", "token-classification", "qa", "causal-lm", "seq2seq"))
    fine.add_argument("--data", help="default: movie_reviews (classification), shakespeare (causal-lm)")
    fine.add_argument("--max-length", type=int, default=128)
    _add_run_options(fine, 1e-4)
    fine.set_defaults(func=_finetune)
    bench = commands.add_parser("bench", help="benchmarks side by side with native transformers")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--output", default="bench/results.json")
    bench.set_defaults(func=_bench)
    _add_export(commands)
    _add_push(commands)
    flops = commands.add_parser("flops", help="parameters and FLOPs per token by architecture element")
    flops.add_argument("config", help="a variant name (paper defaults), a config.json, or a checkpoint folder")
    flops.add_argument("--seq-len", type=int, default=2048, help="tokens per sequence (encoder input)")
    flops.add_argument("--target-len", type=int, help="encoder-decoders: decoder tokens (default: --seq-len)")
    flops.add_argument("--head", help="model head, e.g. ForCausalLM (default: the variant's pretraining LM head)")
    flops.add_argument("--set", action="append", metavar="FIELD=VALUE", help="override a config field")
    flops.add_argument("--dense-attention", action="store_true",
                       help="count every (query, key) pair, as a dense kernel computes (no causal/window saving)")
    flops.add_argument("--memory-len", type=int, help="Transformer-XL: remembered tokens (default: memory_length)")
    flops.add_argument("--batch-size", type=int, default=1,
                       help="sequences per batch (Transformer-XL projects its relative table once per batch)")
    flops.add_argument("--json", action="store_true", help="print the accounting as JSON")
    flops.set_defaults(func=_flops)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError, ConnectionError, PermissionError) as error:
        print(f"hfv {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
