"""`transformers serve` (through `python -m hf_variants.integrations.serve`) answers completions and chat for
hfv_llama and hfv_mixtral checkpoints, with and without continuous batching; decoder tokenizers carry a chat
template."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch

import hf_variants
from hf_variants.tokenization import train_tokenizer
from hf_variants.tokenization.chat import DEFAULT_CHAT_TEMPLATE
from tests.variant_configs import tiny_config

TEXTS = ["the quick brown fox jumps over the lazy dog", "hello world, how are you today?"] * 20
SERVING = ("fastapi", "uvicorn", "openai")
MISSING = [name for name in SERVING if importlib.util.find_spec(name) is None]
ROOT = Path(__file__).resolve().parents[2]


def test_decoder_tokenizers_have_the_default_chat_template():
    tokenizer = train_tokenizer("llama", TEXTS, vocab_size=300, show_progress=False)
    assert tokenizer.chat_template == DEFAULT_CHAT_TEMPLATE
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True,
                                         tokenize=False)
    assert text == "<s>user: hi</s>\nassistant:"
    assert train_tokenizer("bert", TEXTS, vocab_size=200, show_progress=False).chat_template is None


def test_train_tokenizer_sets_a_chat_template(tmp_path):
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{% endfor %}"
    tokenizer = train_tokenizer("gpt2", TEXTS, vocab_size=300, show_progress=False, chat_template=template)
    tokenizer.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) == "[user] hi"


def checkpoint(name: str, directory: Path) -> str:
    tokenizer = train_tokenizer(name, TEXTS, vocab_size=300, show_progress=False)
    config = tiny_config(name, vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    hf_variants.VARIANTS[name].classes["ForCausalLM"](config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"server on port {port} not up after {timeout}s")


@pytest.mark.skipif(bool(MISSING), reason=f"transformers serve needs {', '.join(MISSING)} (transformers[serving])")
def test_serve_completions_and_chat(tmp_path):
    models = [checkpoint(name, tmp_path / name) for name in ("llama", "mixtral")]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "HF_HUB_OFFLINE": "1"}
    servers = {}
    try:
        for batching in (False, True):  # both start at once: the imports overlap
            port = free_port()
            command = [sys.executable, "-m", "hf_variants.integrations.serve", "--host", "127.0.0.1", "--port",
                       str(port), "--device", "cpu", *(["--continuous-batching"] if batching else [])]
            servers[batching] = port, subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                                       stderr=subprocess.STDOUT, text=True)
        answers = {}
        for batching, (port, process) in servers.items():
            wait_until_up(port, process)
            for model in models:
                completion = post(port, "/v1/completions", {"model": model, "prompt": "hello world", "max_tokens": 4})
                chat = post(port, "/v1/chat/completions", {"model": model, "max_tokens": 4,
                                                           "messages": [{"role": "user", "content": "hello"}]})
                assert completion["usage"]["completion_tokens"] == 4 and chat["usage"]["completion_tokens"] == 4
                answers[batching, model] = (completion["choices"][0]["text"],
                                            chat["choices"][0]["message"]["content"])
        for model in models:  # continuous batching answers what generate() answers (greedy)
            assert answers[True, model] == answers[False, model]
    finally:
        for _, process in servers.values():
            process.terminate()
            process.wait(timeout=30)
