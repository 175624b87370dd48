"""Drive the served app with 1, 16 and 64 concurrent gradio_client clients over mixed tabs, T seconds each.

    python -m benchmarks.load_test [--clients 1 16 64] [--seconds 60] [--concurrency 1]

Starts `python app.py` on a free port (BERT_DEMO_CONCURRENCY = --concurrency for the events that are not
batched; the batched ones take up to models/batching.py's MAX_BATCH at once), warms every model once, then for
each client count runs that many clients for T seconds, each looping over the requests below in its own order
with a 120 s client timeout. Prints one JSON line per client count: requests, answered, errors by kind
(timeouts, busy answers, other), p50/p95 over all and per endpoint, throughput and its ratio to one client.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CLIENT_TIMEOUT = 120  # seconds a client waits for one answer
VERB = {"headers": ["label", "words"], "data": [["negative", "terrible"], ["positive", "great"]]}
SHOTS = {"headers": ["text", "label"], "data": [["", ""]]}
REQUESTS = [  # (api_name, args): the tabs' main events on short inputs
    ("/fill_mask", ("Paris is the [MASK] of France.", "embedded-general", 5)),
    ("/answer", ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600.",
                 "embedded-squad", 5, 30, 0.0)),
    ("/tag", ("Angela Merkel met Emmanuel Macron in Paris.", "Named entities", "embedded-ner", "first")),
    ("/classify", ("a gorgeous, witty, seductive movie.", "{text} It was {mask}.", VERB, "cloze",
                   "embedded-general", False, SHOTS, False)),
    ("/chinesebert_fill", ("我喜欢[MASK]。", "zh-fused")),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(concurrency: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "BERT_DEMO_CONCURRENCY": str(concurrency), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"http://127.0.0.1:{port}/"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the app did not start in 120 s")


def _kind(exc: Exception) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if "timeout" in text:
        return "timeouts"
    if "queue is full" in text or "busy" in text or "too many" in text:
        return "busy"
    return "other"


def drive(url: str, clients: int, seconds: float, timeout: float = CLIENT_TIMEOUT) -> dict:
    from gradio_client import Client

    lat: dict[str, list[float]] = {api: [] for api, _ in REQUESTS}
    errors, examples, lock = {"timeouts": 0, "busy": 0, "other": 0}, [], threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(seed: int):
        client = Client(url, verbose=False)
        order = REQUESTS[:]
        random.Random(seed).shuffle(order)
        i = 0
        while time.perf_counter() < stop:
            api, args = order[i % len(order)]
            t0 = time.perf_counter()
            try:
                client.submit(*args, api_name=api).result(timeout=timeout)
                with lock:
                    lat[api].append(time.perf_counter() - t0)
            except Exception as exc:  # counted by kind, the run goes on
                with lock:
                    errors[_kind(exc)] += 1
                    examples.append(f"{api}: {type(exc).__name__}: {str(exc)[:80]}")
            i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    every = np.array([x for xs in lat.values() for x in xs]) * 1000
    pct = lambda a, q: round(float(np.percentile(a, q)), 1) if len(a) else None
    n = int(sum(len(v) for v in lat.values()))
    return {"clients": clients, "requests": n + sum(errors.values()), "answered": n, "errors": errors,
            "error_examples": examples[:3], "p50_ms": pct(every, 50), "p95_ms": pct(every, 95),
            "per_endpoint": {api: {"n": len(v), "p50_ms": pct(np.array(v) * 1000, 50),
                                   "p95_ms": pct(np.array(v) * 1000, 95)} for api, v in lat.items()},
            "throughput_rps": round(n / wall, 2), "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=1, help="per-event concurrency limit of the app's queue")
    args = ap.parse_args()
    proc, url = start_app(args.concurrency)
    try:
        from gradio_client import Client

        warm = Client(url, verbose=False)
        for api, a in REQUESTS:  # load every model before timing
            warm.predict(*a, api_name=api)
        runs = [drive(url, n, args.seconds) for n in args.clients]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    base = next((r["throughput_rps"] for r in runs if r["clients"] == 1), None)
    for r in runs:
        r["throughput_vs_one_client"] = round(r["throughput_rps"] / base, 2) if base else None
        print(json.dumps(r))


if __name__ == "__main__":
    main()
