"""`hfv push`: the dry run lists the complete repository; failures are one line and leave the folder untouched."""

from __future__ import annotations

import hashlib
import socket

import pytest
from huggingface_hub import constants

from hf_variants.cli import main as hfv
from hf_variants.hub.remote_code import remote_code_files


def fingerprint(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def plain_checkpoint(checkpoints, tmp_path):
    """A checkpoint saved without remote code and card: the push must generate them (in memory only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path / "gpt2"
    AutoModelForCausalLM.from_pretrained(checkpoints["gpt2"]).save_pretrained(folder, remote_code=False)
    AutoTokenizer.from_pretrained(checkpoints["gpt2"]).save_pretrained(folder, remote_code=False)
    (folder / "metrics.json").write_text('{"validation_loss": 2.5}')
    (folder / "checkpoints").mkdir()
    (folder / "checkpoints" / "optimizer.pt").write_bytes(b"x")
    return folder


def test_dry_run_lists_the_complete_repository(plain_checkpoint, capsys):
    before = fingerprint(plain_checkpoint)
    assert hfv(["push", str(plain_checkpoint), "--repo-id", "me/tiny-gpt2", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[1]: line for line in lines[:-1]}
    expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json",
                "merges.txt", "metrics.json", "README.md", "generation_config.json", "chat_template.jinja",
                *remote_code_files("gpt2")}
    assert set(listed) == expected
    size = int(listed["model.safetensors"].split()[0].replace(",", ""))
    assert size == (plain_checkpoint / "model.safetensors").stat().st_size
    for generated in ("README.md", "config.json", "tokenizer_config.json", "modeling_hfv_gpt2.py"):
        assert listed[generated].endswith("(generated)"), generated  # auto_map added, code and card generated
    assert lines[-1].split()[1:] == ["total,", str(len(expected)), "files"]
    assert fingerprint(plain_checkpoint) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_endpoint_is_one_line_and_changes_nothing(plain_checkpoint, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_free_port()}")
    before = fingerprint(plain_checkpoint)
    assert hfv(["push", str(plain_checkpoint), "--repo-id", "me/tiny-gpt2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("hfv push: error: cannot reach http://127.0.0.1:"), err
    assert fingerprint(plain_checkpoint) == before


def test_offline_and_invalid_repo_id(plain_checkpoint, capsys, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hfv(["push", str(plain_checkpoint), "--repo-id", "me/tiny-gpt2"]) == 2
    assert "offline mode is on (HF_HUB_OFFLINE=1)" in capsys.readouterr().err
    assert hfv(["push", str(plain_checkpoint), "--repo-id", "not a/valid//id"]) == 2
    assert "invalid repo id 'not a/valid//id'" in capsys.readouterr().err
    assert hfv(["push", str(plain_checkpoint), "--repo-id", "no-namespace"]) == 2
    assert "expected ORG/NAME" in capsys.readouterr().err


def test_version(capsys):
    from hf_variants import __version__

    with pytest.raises(SystemExit) as exit_:
        hfv(["--version"])
    assert exit_.value.code == 0 and f"hf_variants) {__version__}" in capsys.readouterr().out
