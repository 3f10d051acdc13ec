"""Loading by repo id from a real Hub-API server: olah (a Hub mirror, PyPI) serves a checkpoint written by
hf_variants from a local git repository on 127.0.0.1; it loads with the package and, through its remote code,
in a process without it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

import hf_variants

from . import load_checkpoint
from .conftest import job
from .test_remote_code import read_record, run_without_package

olah = pytest.importorskip("olah", reason="olah (Hub mirror server, `pip install olah`, in the [dev] extra) is "
                                          "not installed")
if shutil.which("git") is None:
    pytest.skip("git is needed to serve a local repository with olah", allow_module_level=True)

ORG = "hfv"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git_repository(source: Path, path: Path) -> str:
    shutil.copytree(source, path)
    git = ["git", "-C", str(path), "-c", "user.name=hfv", "-c", "user.email=hfv@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "checkpoint"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _record_revision(repos: Path, name: str, sha: str) -> None:
    """olah offline answers 401 for a file missing from the repo (transformers asks for optional ones) unless it
    knows where `main` points: record it in its cache, as a file download would."""
    from olah.utils.cache_utils import write_cache_request
    from olah.utils.repo_utils import get_resolved_commit_save_path

    path = Path(get_resolved_commit_save_path(str(repos), "models", ORG, name, "main"))
    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(write_cache_request(str(path), 200, {}, sha.encode()))


@pytest.fixture(scope="module")
def olah_server(checkpoints, tmp_path_factory):
    root = tmp_path_factory.mktemp("olah")
    names = ("bert", "llama")
    for name in names:
        sha = _git_repository(checkpoints[name], root / "mirrors" / "models" / ORG / f"tiny-{name}")
        _record_revision(root / "repos", f"tiny-{name}", sha)
    port = _free_port()
    (root / "olah.toml").write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{root / "repos"}"\n'
        f'mirrors-path = ["{root / "mirrors"}"]\n[accessibility]\noffline = true\n', encoding="utf-8")
    log = open(root / "olah.log", "w")
    server = subprocess.Popen([sys.executable, "-c", "import sys; from olah.server import cli; sys.exit(cli())",
                               "-c", str(root / "olah.toml")], cwd=root, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(f"{endpoint}/api/models/{ORG}/tiny-bert/revision/main", server, root / "olah.log")
        yield endpoint, {name: f"{ORG}/tiny-{name}" for name in names}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_until_serving(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"olah exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"olah did not answer {url} within {timeout}s: {log.read_text()[-2000:]}")


def _with_package(jobs: list[dict], tmp_path: Path) -> None:
    """The same loader in an ordinary process that imports hf_variants (environment set before any import)."""
    jobs_file = tmp_path / "jobs-with-package.json"
    jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(hf_variants.__file__).parent.parent)}
    result = subprocess.run([sys.executable, load_checkpoint.__file__, "--with-package", str(jobs_file)], env=env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]


def test_load_by_repo_id_with_and_without_the_package(olah_server, checkpoints, tmp_path, monkeypatch):
    endpoint, repos = olah_server
    for name, value in {"HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
                        "HF_HOME": str(tmp_path / "hf-home")}.items():
        monkeypatch.setenv(name, value)
    remote = [job(name, repo, remote=True, output=tmp_path / f"{name}-remote.safetensors")
              for name, repo in repos.items()]
    run_without_package(remote, tmp_path)
    native = [job(name, repo, remote=False, output=tmp_path / f"{name}-package.safetensors")
              for name, repo in repos.items()]
    _with_package(native, tmp_path)
    for name in repos:
        theirs, classes = read_record(tmp_path / f"{name}-remote.safetensors")
        assert classes["model"].startswith("transformers_modules."), classes
        by_id, classes = read_record(tmp_path / f"{name}-package.safetensors")
        assert classes["model"].startswith("hf_variants."), classes
        local = load_checkpoint.run_job(job(name, checkpoints[name], remote=False))
        local.pop("classes")
        assert set(local) == set(by_id) == set(theirs), name
        for key, value in local.items():
            assert torch.equal(value, by_id[key]), f"{name}: {key} by repo id differs from the local folder"
            assert torch.equal(value, theirs[key]), f"{name}: {key} by repo id without the package differs"
    assert any((tmp_path / "hf-home" / "hub").iterdir())  # really downloaded through the server
