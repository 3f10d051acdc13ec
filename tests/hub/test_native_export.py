"""`hfv convert --to native`: the output loads with plain transformers (no hf_variants importable) and behaves the
same: logits, token ids, token types, padding side."""

from __future__ import annotations

from pathlib import Path

import torch

import hf_variants
from hf_variants.cli import main as hfv

from . import load_checkpoint
from .conftest import job
from .test_remote_code import read_record, run_without_package

NATIVE = [name for name, spec in hf_variants.VARIANTS.items() if spec.native is not None]


def test_native_export_behaves_identically_without_the_package(checkpoints, tmp_path):
    names = [n for n in NATIVE if n in checkpoints]
    jobs = []
    for name in names:
        out = tmp_path / "native" / name
        assert hfv(["convert", str(checkpoints[name]), str(out)]) == 0
        assert not list(out.glob("*.py"))
        jobs.append({**job(name, out, remote=False, output=tmp_path / f"{name}.safetensors"), "generate": False})
    run_without_package(jobs, tmp_path)
    written = {}
    for spec in jobs:
        name = Path(spec["path"]).name
        theirs, classes = read_record(Path(spec["output"]))
        assert classes["model"].startswith("transformers.models."), classes
        written[name] = classes["tokenizer"].rsplit(".", 1)[1]
        ours = load_checkpoint.run_job({**job(name, checkpoints[name], remote=False), "generate": False})
        ours.pop("classes")
        assert set(ours) == set(theirs), name
        for key, value in ours.items():
            if key == "logits":
                torch.testing.assert_close(theirs[key], value, rtol=0, atol=1e-5, msg=f"{name}: logits")
            else:
                assert torch.equal(value, theirs[key]), f"{name}: {key} differs in the native export"
    expected = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer", "roberta": "RobertaTokenizer",
                "gpt2": "GPT2Tokenizer", "llama": "LlamaTokenizer", "byt5": "ByT5Tokenizer"}
    assert {k: written[k] for k in expected} == expected
    print("native tokenizer classes written:", written)
    bert, _ = read_record(tmp_path / "bert.safetensors")
    llama, _ = read_record(tmp_path / "llama.safetensors")
    assert bert["pair.token_type_ids"].max() == 1 and bool(llama["tokens.padding_left"])
