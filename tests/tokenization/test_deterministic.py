"""Tokenizer training gives the same ids in every process (issue 14: WordPiece and Unigram moved 207-283 ids
between processes): two subprocesses with different PYTHONHASHSEED train WordPiece (bert), BPE with word-end
suffixes (gpt) and Unigram (t5, albert) on the same corpus."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("bert", "gpt", "t5", "albert")
SCRIPT = f"""
import json
from hf_variants.data import load
from hf_variants.tokenization import train_tokenizer
texts = [t for t in load("shakespeare")["train"]["text"] if t.strip()][:300]
print(json.dumps({{v: train_tokenizer(v, iter(texts), vocab_size=1200, show_progress=False).get_vocab()
                  for v in {VARIANTS!r}}}))
"""


def _vocabularies(hash_seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_tokenizer_training_is_deterministic_across_processes():
    first, second = _vocabularies("1"), _vocabularies("2")
    for variant in VARIANTS:
        moved = sum(first[variant][t] != second[variant].get(t) for t in first[variant])
        assert moved == 0 and first[variant].keys() == second[variant].keys(), f"{variant}: {moved} ids moved"
