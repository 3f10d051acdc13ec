"""Remote code: a saved checkpoint loads and computes identically in a process where hf_variants is not importable."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import hf_variants
from hf_variants.hub import export_remote_code, remote_code_files
from hf_variants.hub.remote_code import TRANSFORMERS_RANGE

from . import load_checkpoint
from .conftest import job

CHILD = Path(load_checkpoint.__file__)


def run_without_package(jobs: list[dict], tmp_path: Path, python: str = sys.executable) -> None:
    """Run `load_checkpoint.py` on `jobs` in `python -I -S` with only site-packages on the path (no .pth files)."""
    jobs_file = tmp_path / "jobs.json"
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["HF_MODULES_CACHE"] = str(tmp_path / "modules")
    result = subprocess.run([python, "-I", "-S", str(CHILD), site, str(jobs_file)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def read_record(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_every_variant_loads_without_the_package(checkpoints, tmp_path):
    jobs = [job(name, path, remote=True, output=tmp_path / f"{name}.safetensors") for name, path in checkpoints.items()]
    run_without_package(jobs, tmp_path)
    records = {}
    for spec in jobs:
        name = Path(spec["path"]).name
        theirs, classes = read_record(Path(spec["output"]))
        assert classes["model"].startswith("transformers_modules."), classes
        assert classes["tokenizer"].startswith("transformers_modules."), classes
        ours = load_checkpoint.run_job({**spec, "remote": False})
        assert ours.pop("classes")["model"].startswith("hf_variants."), name
        assert set(ours) == set(theirs), name
        for key, value in ours.items():
            assert torch.equal(value, theirs[key]), f"{name}: {key} differs without the package"
        if spec["family"] == "decoder":
            assert theirs["generated"].shape[1] == theirs["tokens.input_ids"].shape[1] + 5
        records[name] = theirs
    # Native tokenizer behaviour survives the trip: BERT pairs keep token types, LLaMA pads on the left.
    assert records["bert"]["pair.token_type_ids"].max() == 1
    assert bool(records["llama"]["tokens.padding_left"])


def test_child_process_really_lacks_the_package(tmp_path):
    probe = "import importlib.util, sys\nsys.path.insert(0, sys.argv[1])\nprint(importlib.util.find_spec('hf_variants'))"
    site = sysconfig.get_paths()["purelib"]
    isolated = subprocess.run([sys.executable, "-I", "-S", "-c", probe, site], capture_output=True, text=True,
                              cwd=tmp_path, check=True)
    assert isolated.stdout.strip() == "None"
    normal = subprocess.run([sys.executable, "-c", probe, site], capture_output=True, text=True, cwd=tmp_path,
                            check=True)
    assert "hf_variants" in normal.stdout  # the same interpreter finds the package by the ordinary path


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint", "input"}
FORBIDDEN_MODULES = {"pickle", "dill", "marshal", "shelve", "subprocess", "socket", "urllib", "http", "requests",
                     "httpx", "huggingface_hub", "importlib", "ctypes", "shutil", "tempfile", "sys", "hf_variants"}


def audit(name: str, text: str) -> list[str]:
    """What a reviewer of trust_remote_code must not find: dynamic code, pickle, network, process or package imports,
    file writes outside a tokenizer's own save, `os` calls other than path checks."""
    problems = []
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if node.__class__ is ast.ImportFrom and node.level:
                continue
            problems += [f"imports {m}" for m in modules if m.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                problems.append(f"calls {node.func.id}")
            if node.func.id == "open" and (len(node.args) > 1 or any(k.arg == "mode" for k in node.keywords)):
                problems.append("opens a file for writing")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
            if node.attr not in {"PathLike", "fspath", "path"}:
                problems.append(f"uses os.{node.attr}")
    return [f"{name}: {p}" for p in problems]


@pytest.mark.parametrize("name", list(hf_variants.VARIANTS))
def test_exported_code_is_auditable(name):
    files = remote_code_files(name)
    from hf_variants import __version__

    for file_name, text in files.items():
        assert text.startswith(f"# Generated by hf_variants {__version__} from ")
        assert f"for transformers{TRANSFORMERS_RANGE}." in text.splitlines()[0]
        assert audit(file_name, text) == []
        for line in text.splitlines():
            if line.lstrip().startswith("from .") and " import " in line:
                module = line.split()[1][1:]
                assert "." not in module and f"{module}.py" in files, f"{file_name}: {line}"


def test_audit_catches_what_it_should():
    bad = "import pickle\nimport os\nfrom hf_variants.core import x\neval('1')\nopen('f', 'w')\nos.remove('f')\n"
    assert len(audit("bad.py", bad)) == 5


def test_transformers_range_matches_pyproject():
    pyproject = (Path(hf_variants.__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"transformers{TRANSFORMERS_RANGE}"' in pyproject


def test_export_in_place_and_opt_out(checkpoints, tmp_path):
    from transformers import AutoTokenizer

    folder = tmp_path / "plain"
    model = hf_variants.VARIANTS["gpt2"].classes["ForCausalLM"].from_pretrained(checkpoints["gpt2"])
    model.save_pretrained(folder, remote_code=False)
    AutoTokenizer.from_pretrained(checkpoints["gpt2"]).save_pretrained(folder, remote_code=False)
    assert not list(folder.glob("*.py"))
    for name in ("config.json", "tokenizer_config.json"):  # the loaded auto_map is not carried into the folder
        assert "auto_map" not in json.loads((folder / name).read_text()), name
    written = export_remote_code(folder)
    assert {p.name for p in written} == set(remote_code_files("gpt2"))
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_hfv_gpt2.HfvGPT2ForCausalLM"
    tokenizer_map = json.loads((folder / "tokenizer_config.json").read_text())["auto_map"]
    assert tokenizer_map == {"AutoTokenizer": [None, "tokenization_classes.HfvGPT2Tokenizer"]}
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    from hf_variants.cli import main as hfv

    assert hfv(["export", str(folder)]) == 0  # `hfv export DIR`: the same, in place
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # idempotent


def test_export_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ValueError, match="not an hf_variants checkpoint.*'bert'"):
        export_remote_code(tmp_path)
