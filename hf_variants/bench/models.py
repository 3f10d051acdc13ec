"""Forward and forward+backward time of hf_variants models vs their native transformers counterparts.

Same weights (via `from_native`), same inputs, runs interleaved (ours, native, ours, ...) so drift hits both
sides equally; the ratio of medians is reported (ratio < 1: ours is faster).
"""

from __future__ import annotations

import statistics
import time

import torch
import transformers

from ..convert import from_native

# (label, native class, native config kwargs, batch, length)
CASES = [
    ("bert-base-like encoder", "BertForMaskedLM",
     dict(vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024), 8, 128),
    ("roberta encoder", "RobertaForMaskedLM",
     dict(vocab_size=50265, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
          pad_token_id=1, max_position_embeddings=514), 8, 128),
    ("albert encoder (shared)", "AlbertForMaskedLM",
     dict(vocab_size=30000, embedding_size=128, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
          intermediate_size=1024), 8, 128),
]


def _time(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _step(model, inputs, backward: bool):
    def run():
        if backward:
            model.zero_grad(set_to_none=True)
            model(**inputs).logits.float().mean().backward()
        else:
            with torch.no_grad():
                model(**inputs)
    return run


def run(quick: bool = False) -> list[dict]:
    rows = []
    repeats = 3 if quick else 10
    for label, class_name, kwargs, batch, length in CASES[:1] if quick else CASES:
        torch.manual_seed(0)
        config = getattr(transformers, class_name.replace("ForMaskedLM", "Config"))(**kwargs, attn_implementation="sdpa")
        native = getattr(transformers, class_name)(config).eval()
        ours = from_native(native).eval()
        ids = torch.randint(5, config.vocab_size, (batch, length))
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        for mode, backward in (("forward", False), ("forward+backward", True)):
            ours_run, native_run = _step(ours, inputs, backward), _step(native, inputs, backward)
            ours_run(), native_run()  # warm-up
            ours_t, native_t = [], []
            for _ in range(repeats):
                ours_t += _time(ours_run, 1)
                native_t += _time(native_run, 1)
            o, n = statistics.median(ours_t), statistics.median(native_t)
            rows.append({"benchmark": "model", "case": f"{label} {mode} b{batch}x{length}", "ours_s": round(o, 5),
                         "native_s": round(n, 5), "ratio": round(o / n, 3)})
    return rows
