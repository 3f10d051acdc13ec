"""`make demo`: the main job on the embedded data, offline, in a few minutes on 2 CPU cores.

1. Train a WordPiece tokenizer and pretrain a tiny BERT with MLM + NSP on Shakespeare, then fine-tune it on the
   movie-review sentiment sentences; report test accuracy next to the majority-class baseline.
2. Pretrain a tiny LLaMA on Shakespeare; print a generated sample and its validation perplexity next to a unigram
   model's.
3. A short T5 span-corruption pretraining.
4. Reload every saved model with the transformers Auto classes.
Outputs (checkpoints, tokenizers, metrics.json, loss_curve.png, model cards) go to runs/demo/.
"""

from __future__ import annotations

import collections
import math
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402  # noqa: E402
    AutoModelForCausalLM,
    AutoModelForPreTraining,
    AutoModelForSeq2SeqLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
)

import hf_variants  # noqa: E402
from hf_variants import data  # noqa: E402
from hf_variants.training import finetune, pretrain  # noqa: E402

RUNS = Path(os.environ.get("DEMO_OUTPUT", "runs/demo"))
QUICK = os.environ.get("DEMO_QUICK") == "1"  # a smoke run (tests): fewer steps, same code path
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()  # one summary line per step instead of shard/weight bars
datasets.disable_progress_bars()


def steps(n: int) -> int:
    return max(4, n // 20) if QUICK else n


def header(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 70 - len(text)), flush=True)


def unigram_perplexity(tokenizer, train_texts, validation_texts) -> float:
    """Perplexity of a unigram model (add-one smoothed token frequencies) on the validation tokens."""
    counts = collections.Counter(t for ids in tokenizer(train_texts, add_special_tokens=False)["input_ids"] for t in ids)
    total, vocab = sum(counts.values()), len(tokenizer)
    validation = [t for ids in tokenizer(validation_texts, add_special_tokens=False)["input_ids"] for t in ids]
    nll = -sum(math.log((counts[t] + 1) / (total + vocab)) for t in validation) / len(validation)
    return math.exp(nll)


def main() -> int:
    start = time.time()
    marker = RUNS / ".hfv-demo"  # only a folder this demo made is ever deleted
    if RUNS.exists() and any(RUNS.iterdir()):
        if not marker.exists():
            print(f"{RUNS} exists and was not made by this demo; move it or set DEMO_OUTPUT", file=sys.stderr)
            return 2
        shutil.rmtree(RUNS)
    RUNS.mkdir(parents=True, exist_ok=True)
    marker.write_text("scratch output of scripts/demo.py; deleted and rebuilt on every run\n")
    torch.manual_seed(0)
    print(f"hf_variants {hf_variants.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    plays, reviews = data.shakespeare(), data.movie_reviews()
    print(f"data: Shakespeare {plays['train'].num_rows:,} speeches (train) / {plays['validation'].num_rows:,} "
          f"(held-out plays); movie reviews {reviews['train'].num_rows:,} / {reviews['validation'].num_rows:,} / "
          f"{reviews['test'].num_rows:,} sentences")

    header("1. BERT: WordPiece tokenizer + MLM/NSP pretraining on Shakespeare")
    bert_dir = RUNS / "bert-pretrained"
    metrics = pretrain("bert", str(bert_dir), size="tiny", steps=steps(300), batch_size=32, learning_rate=2e-3,
                       quiet=True)
    print(f"pretraining loss (MLM + NSP) on held-out plays: {metrics['validation_loss']:.3f}")

    header("   fine-tune on movie-review sentiment")
    sentiment_dir = RUNS / "bert-sentiment"
    metrics = finetune(str(bert_dir), "classification", str(sentiment_dir), steps=steps(500), batch_size=32,
                       learning_rate=1e-3, max_length=64, quiet=True)
    accuracy, baseline = metrics["test_accuracy"], metrics["test_majority_baseline"]
    print(f"test accuracy {accuracy:.3f}  vs  majority-class baseline {baseline:.3f}  "
          f"(+{100 * (accuracy - baseline):.1f} points)")

    header("2. LLaMA: byte-fallback BPE + causal-LM pretraining on Shakespeare")
    llama_dir = RUNS / "llama-pretrained"
    metrics = pretrain("llama", str(llama_dir), size="tiny", steps=steps(400), batch_size=32, learning_rate=3e-3,
                       quiet=True)
    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    unigram = unigram_perplexity(tokenizer, plays["train"]["text"][:20000], plays["validation"]["text"][:400])
    print(f"validation perplexity {metrics['validation_perplexity']:.1f}  vs  unigram baseline {unigram:.1f}")
    model = AutoModelForCausalLM.from_pretrained(llama_dir).eval()
    prompt = tokenizer("ROMEO:\nBut soft, what light", return_tensors="pt")
    torch.manual_seed(0)
    sample = model.generate(**prompt, max_new_tokens=40, do_sample=True, top_k=40, temperature=0.8,
                            pad_token_id=tokenizer.pad_token_id)
    print("sample:\n  " + tokenizer.decode(sample[0], skip_special_tokens=True).replace("\n", "\n  "))

    header("3. T5: Unigram tokenizer + span-corruption pretraining")
    t5_dir = RUNS / "t5-pretrained"
    metrics = pretrain("t5", str(t5_dir), size="tiny", steps=steps(150), batch_size=32, learning_rate=3e-3,
                       quiet=True)
    print(f"span-corruption validation loss {metrics['validation_loss']:.3f}")

    header("4. reload every saved model with the Auto classes")
    for directory, auto in ((bert_dir, AutoModelForPreTraining), (sentiment_dir, AutoModelForSequenceClassification),
                            (llama_dir, AutoModelForCausalLM), (t5_dir, AutoModelForSeq2SeqLM)):
        model, tokenizer = auto.from_pretrained(directory), AutoTokenizer.from_pretrained(directory)
        print(f"{directory}: {type(model).__name__} + {type(tokenizer).__name__}")

    elapsed = time.time() - start
    print(f"\ndone in {elapsed / 60:.1f} min; outputs (metrics.json, loss_curve.png, model cards) in {RUNS}/")
    ok = accuracy >= baseline + 0.10 and metrics is not None
    return 0 if ok or QUICK else 1


if __name__ == "__main__":
    sys.exit(main())
