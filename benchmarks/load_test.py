"""Drive the served app with N concurrent gradio_client clients over mixed tabs for T seconds.

    python -m benchmarks.load_test [--clients 16] [--seconds 60] [--concurrency 2]

Starts `python app.py` on a free port (BERT_DEMO_CONCURRENCY = --concurrency), warms every model
once, then runs one client for T/4 seconds (the baseline) and N clients for T seconds. Each client
loops over the requests below in its own order. Prints one JSON line: requests, errors, p50/p95
latency and throughput for 1 and N clients, and the speed-up.
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


def drive(url: str, clients: int, seconds: float) -> dict:
    from gradio_client import Client

    lat, errors, lock = [], [], threading.Lock()
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
                client.predict(*args, api_name=api)
                with lock:
                    lat.append(time.perf_counter() - t0)
            except Exception as exc:  # counted, the run goes on
                with lock:
                    errors.append(f"{api}: {type(exc).__name__}: {str(exc)[:80]}")
            i += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ms = np.array(lat) * 1000 if lat else np.array([np.nan])
    return {"clients": clients, "requests": len(lat), "errors": len(errors), "error_examples": errors[:3],
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "throughput_rps": round(len(lat) / wall, 2), "wall_s": round(wall, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=1, help="per-event concurrency limit of the app's queue")
    args = ap.parse_args()
    proc, url = start_app(args.concurrency)
    try:
        from gradio_client import Client

        warm = Client(url, verbose=False)
        for api, a in REQUESTS:  # load every model before timing
            warm.predict(*a, api_name=api)
        one = drive(url, 1, args.seconds / 4)
        many = drive(url, args.clients, args.seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps({"concurrency_limit": args.concurrency, "one_client": one, "many_clients": many,
                      "throughput_speedup": round(many["throughput_rps"] / max(one["throughput_rps"], 1e-9), 2)}))


if __name__ == "__main__":
    main()
