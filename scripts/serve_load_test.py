"""Bounded load test of an OpenAI-style server (`transformers serve`, e.g. serving an hf_variants checkpoint).

N concurrent clients each send up to M requests to 127.0.0.1 (completions or chat); the run stops by itself when
all requests are done or after --duration seconds, whichever comes first. Reports latency p50/p95/p99, generated
tokens/s (from the server's `usage`), requests/s and errors, as a table and as JSON (--json).

    # start the server itself on a free port, load it, stop it:
    python scripts/serve_load_test.py --checkpoint runs/demo/llama --clients 4 --requests 8 --duration 60
    python scripts/serve_load_test.py --checkpoint runs/demo/llama --continuous-batching
    # or load a server that is already running:
    python scripts/serve_load_test.py --port 8000 --model runs/demo/llama
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def request_body(args: argparse.Namespace, index: int) -> tuple[str, dict]:
    prompt = f"{args.prompt} {index}"
    if args.endpoint == "chat":
        messages = [{"role": "user", "content": prompt}]
        return "/v1/chat/completions", {"model": args.model, "messages": messages, "max_tokens": args.max_tokens}
    return "/v1/completions", {"model": args.model, "prompt": prompt, "max_tokens": args.max_tokens}


def client(args: argparse.Namespace, client_id: int, deadline: float, results: list, lock: threading.Lock) -> None:
    """Send up to `args.requests` requests one after another; record (latency s, tokens, error)."""
    for i in range(args.requests):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        path, body = request_body(args, client_id * args.requests + i)
        request = urllib.request.Request(f"http://{args.host}:{args.port}{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=max(remaining, 0.1)) as response:
                usage = json.loads(response.read()).get("usage") or {}
            record = (time.monotonic() - start, int(usage.get("completion_tokens", 0)), None)
        except (urllib.error.URLError, OSError, ValueError) as error:
            record = (time.monotonic() - start, 0, f"{type(error).__name__}: {error}")
        with lock:
            results.append(record)


def run_load(args: argparse.Namespace) -> dict:
    """Run the clients against a running server and summarise."""
    results: list = []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + args.duration
    threads = [threading.Thread(target=client, args=(args, c, deadline, results, lock)) for c in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    ok = [latency for latency, _, error in results if error is None]
    errors = [error for _, _, error in results if error is not None]
    tokens = sum(count for _, count, error in results if error is None)
    return {
        "endpoint": args.endpoint, "clients": args.clients, "requests_per_client": args.requests,
        "max_tokens": args.max_tokens, "duration_limit_s": args.duration, "elapsed_s": round(elapsed, 3),
        "requests": len(results), "ok": len(ok), "errors": len(errors), "first_error": errors[0] if errors else None,
        "latency_p50_s": percentile(ok, 50), "latency_p95_s": percentile(ok, 95), "latency_p99_s": percentile(ok, 99),
        "latency_mean_s": statistics.fmean(ok) if ok else None,
        "tokens": tokens, "tokens_per_s": tokens / elapsed if elapsed else None,
        "requests_per_s": len(ok) / elapsed if elapsed else None,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: argparse.Namespace) -> subprocess.Popen:
    """`python -m hf_variants.integrations.serve CHECKPOINT` on 127.0.0.1; returns once /health answers."""
    command = [sys.executable, "-m", "hf_variants.integrations.serve", args.checkpoint, "--host", args.host,
               "--port", str(args.port), "--device", "cpu",
               *(["--continuous-batching"] if args.continuous_batching else [])]
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with code {process.returncode}: {' '.join(command)}")
        try:
            with urllib.request.urlopen(f"http://{args.host}:{args.port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise TimeoutError("server did not answer /health within 120 s")


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM (uvicorn's graceful stop), then SIGKILL if it still runs after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def warm_up(args: argparse.Namespace) -> None:
    """One request first, so that loading the model is not counted as latency."""
    path, body = request_body(args, -1)
    request = urllib.request.Request(f"http://{args.host}:{args.port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120):
        pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="start a server for this checkpoint (and stop it at the end)")
    parser.add_argument("--continuous-batching", action="store_true", help="with --checkpoint: serve with CB")
    parser.add_argument("--model", help="model id sent in requests (default: --checkpoint)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: a free port (with --checkpoint) or 8000")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (N)")
    parser.add_argument("--requests", type=int, default=8, help="requests per client (M)")
    parser.add_argument("--duration", type=float, default=60.0, help="hard limit on the run, seconds")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--endpoint", choices=["completions", "chat"], default="completions")
    parser.add_argument("--prompt", default="To be, or not to be")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args(argv)
    if args.model is None:
        if args.checkpoint is None:
            parser.error("pass --model (a running server's model id) or --checkpoint")
        args.model = args.checkpoint
    for name in ("clients", "requests", "max_tokens"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.port is None:
        args.port = free_port() if args.checkpoint else 8000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = start_server(args) if args.checkpoint else None
    try:
        warm_up(args)
        summary = run_load(args)
    finally:
        if server is not None:
            stop_server(server)
    summary["continuous_batching"] = args.continuous_batching if args.checkpoint else None
    for key, value in summary.items():
        print(f"{key:>22}: {round(value, 4) if isinstance(value, float) else value}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
