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

# (label, native class, native config class, native config kwargs, batch, length)
CASES = [
    ("bert encoder", "BertForMaskedLM", "BertConfig",
     dict(vocab_size=30522, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024), 8, 128),
    ("roberta encoder", "RobertaForMaskedLM", "RobertaConfig",
     dict(vocab_size=50265, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
          pad_token_id=1, max_position_embeddings=514), 8, 128),
    ("albert encoder (shared)", "AlbertForMaskedLM", "AlbertConfig",
     dict(vocab_size=30000, embedding_size=128, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
          intermediate_size=1024), 8, 128),
    ("gpt2 decoder", "GPT2LMHeadModel", "GPT2Config",
     dict(vocab_size=50257, n_embd=256, n_layer=4, n_head=4, n_positions=512), 8, 128),
    ("llama decoder (GQA)", "LlamaForCausalLM", "LlamaConfig",
     dict(vocab_size=32000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
          intermediate_size=688), 8, 128),
    ("t5 encoder-decoder", "T5ForConditionalGeneration", "T5Config",
     dict(vocab_size=32000, d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_heads=4), 8, 128),
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
    for label, class_name, config_name, kwargs, batch, length in CASES[:1] if quick else CASES:
        torch.manual_seed(0)
        config = getattr(transformers, config_name)(**kwargs)
        # sdpa where the native class has it (T5 has eager only): both sides then run the same kernel
        config._attn_implementation = "sdpa" if getattr(transformers, class_name)._supports_sdpa else "eager"
        native = getattr(transformers, class_name)(config).eval()
        ours = from_native(native).eval()
        ids = torch.randint(5, config.vocab_size, (batch, length))
        inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
        if config.is_encoder_decoder:
            inputs["decoder_input_ids"] = ids[:, : length // 2]
        for mode, backward in (("forward", False), ("forward+backward", True)):
            ours_run, native_run = _step(ours, inputs, backward), _step(native, inputs, backward)
            ours_run(), native_run()  # warm-up
            ours_t, native_t = [], []
            for _ in range(repeats):
                ours_t += _time(ours_run, 1)
                native_t += _time(native_run, 1)
            o, n = statistics.median(ours_t), statistics.median(native_t)
            rows.append({"benchmark": "model", "case": f"{label} {mode} b{batch}x{length} "
                         f"({config._attn_implementation})", "ours_s": round(o, 5),
                         "native_s": round(n, 5), "ratio": round(o / n, 3)})
    if not quick:
        rows += generation_rows(repeats)
    return rows


def generation_rows(repeats: int) -> list[dict]:
    """Greedy `generate` with the KV cache (64 new tokens after a 32-token prompt, batch 4): LLaMA with GQA."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=32000, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                                      num_key_value_heads=2, intermediate_size=688)
    config._attn_implementation = "sdpa"
    native = transformers.LlamaForCausalLM(config).eval()
    ours = from_native(native).eval()
    prompt = torch.randint(5, 32000, (4, 32))

    def generate(model):
        def run():
            with torch.no_grad():
                model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=64, do_sample=False,
                               min_new_tokens=64, pad_token_id=0)
        return run

    ours_run, native_run = generate(ours), generate(native)
    ours_run(), native_run()
    ours_t, native_t = [], []
    for _ in range(max(3, repeats // 2)):
        ours_t += _time(ours_run, 1)
        native_t += _time(native_run, 1)
    o, n = statistics.median(ours_t), statistics.median(native_t)
    return [{"benchmark": "model", "case": "llama decoder greedy generate 64 tokens, batch 4 (sdpa, KV cache)",
             "ours_s": round(o, 5), "native_s": round(n, 5), "ratio": round(o / n, 3)}]
