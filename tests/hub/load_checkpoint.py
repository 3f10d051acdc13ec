"""Load saved checkpoints through the Auto classes and record what they compute (tokens, logits, generations).

Imported by the tests (with hf_variants) and run as a script in a child process where hf_variants is NOT
importable: `python -I -S load_checkpoint.py SITE_PACKAGES JOBS.json`. Both sides produce the same record per job,
which the tests compare exactly. Uses only transformers, torch and safetensors.
"""

from __future__ import annotations

import json
import sys

TEXTS = ["the quick brown fox jumps over", "café naïve 日本語 😀 and birds sing", "Rare: ǅ ﬁ ＡＢＣ ① ℃，ok"]
PAIR = ("How are you?", "Fine, thanks — and you?")


def run_job(job: dict) -> dict:
    """Tokenize and run the checkpoint `job["path"]` with `job["auto_class"]`; tensors keyed by what they are.
    One CPU thread on both sides: the parallel matmul split depends on the threads a process gets, and a different
    split changes float sums in the last bit (seen: ALBERT logits, ~1 run in 4), which is not what this compares."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_job(job)
    finally:
        torch.set_num_threads(threads)


def _run_job(job: dict) -> dict:
    import torch
    import transformers

    kwargs = {"trust_remote_code": True} if job["remote"] else {}
    tok = transformers.AutoTokenizer.from_pretrained(job["path"], **kwargs)
    model = getattr(transformers, job["auto_class"]).from_pretrained(job["path"], **kwargs).eval()
    pad = tok.pad_token is not None
    batch = tok(TEXTS if pad else TEXTS[:1], padding=pad, return_tensors="pt")
    pair = tok(*PAIR, return_token_type_ids=True, return_tensors="pt")
    record = {f"tokens.{k}": v for k, v in batch.items()}
    record.update({f"pair.{k}": v for k, v in pair.items()})
    record["tokens.padding_left"] = torch.tensor(tok.padding_side == "left")
    inputs = {k: v for k, v in batch.items() if k != "token_type_ids" or job["family"] == "encoder"}
    if job["family"] == "encoder-decoder":
        inputs["decoder_input_ids"] = batch["input_ids"][:, :4]
    with torch.no_grad():
        record["logits"] = model(**inputs).logits
        if job["generate"]:
            gen = {k: v for k, v in batch.items() if k != "token_type_ids"}
            record["generated"] = model.generate(**gen, max_new_tokens=5, do_sample=False, min_new_tokens=5)
    record["classes"] = {"model": f"{type(model).__module__}.{type(model).__name__}",
                         "tokenizer": f"{type(tok).__module__}.{type(tok).__name__}"}
    return record


def main(site_packages: str, jobs_file: str) -> None:
    """`site_packages` "--with-package": import hf_variants first (an ordinary process with the package)."""
    if site_packages == "--with-package":
        import hf_variants  # noqa: F401
    else:
        sys.path.insert(0, site_packages)  # without site's .pth processing: no editable hf_variants finder
        import importlib.util

        if importlib.util.find_spec("hf_variants") is not None:
            raise SystemExit("hf_variants is importable in the child process; the test would prove nothing")
    from safetensors.torch import save_file

    with open(jobs_file, encoding="utf-8") as f:
        jobs = json.load(f)
    for job in jobs:
        record = run_job(job)
        classes = record.pop("classes")
        save_file({k: v.contiguous() for k, v in record.items()}, job["output"], metadata=classes)
    if site_packages != "--with-package" and any(m.split(".")[0] == "hf_variants" for m in sys.modules):
        raise SystemExit("hf_variants was imported while loading")


if __name__ == "__main__":
    main(*sys.argv[1:])
