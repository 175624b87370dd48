"""Drive the served app with 1, 16 and 64 concurrent clients over mixed tabs, T seconds each.

    python -m benchmarks.load_test [--clients 1 16 64] [--seconds 60] [--client http|gradio] [--concurrency 1]

Starts `python app.py` on a free port (BERT_DEMO_CONCURRENCY = --concurrency for the events that are not
batched; the batched ones take up to models/batching.py's MAX_BATCH at once), warms every model once, waits
for the app's background warm-up to end, then for each client count runs that many clients for T seconds,
each looping over the requests below in its own order with a 120 s client timeout. A client is a visitor
with its own session speaking Gradio's REST queue API (--client http, light: one asyncio loop) or a
gradio_client.Client in a thread (--client gradio, heavy on the client side). Prints one JSON line per client
count: requests, answered, errors by kind (timeouts, busy answers, other), p50/p95 over all and per endpoint,
throughput and its ratio to one client, the server's busy cores and its peak memory.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psutil

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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux VmHWM, which psutil does not read), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def wait_until_idle(pid: int, started: float, limit_s: float = 180) -> float:
    """Wait for the app's background warm-up (UMAP's numba compile, at most WARM_UP_AFTER_S after the app
    serves, ~30 CPU seconds) to finish: it once ran inside the one-client window and took a third of the
    server's CPU there. `started`: when the app began serving. Returns the seconds waited."""
    from app import WARM_UP_AFTER_S

    t0 = time.perf_counter()
    time.sleep(max(0.0, started + WARM_UP_AFTER_S + 1 - time.perf_counter()))
    while time.perf_counter() - t0 < limit_s:
        c0 = cpu_seconds(pid)
        time.sleep(2)
        if cpu_seconds(pid) - c0 < 0.1:  # under 5 % of a core for 2 s: nothing running in the background
            break
    return time.perf_counter() - t0


def _kind(exc: Exception) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if "timeout" in text:
        return "timeouts"
    if "queue is full" in text or "busy" in text or "too many" in text:
        return "busy"
    return "other"


class _Tally:
    """Latencies per endpoint and errors by kind, from many clients at once."""

    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {api: [] for api, _ in REQUESTS}
        self.errors, self.examples, self.lock = {"timeouts": 0, "busy": 0, "other": 0}, [], threading.Lock()

    def answered(self, api: str, seconds: float) -> None:
        with self.lock:
            self.lat[api].append(seconds)

    def failed(self, api: str, exc: Exception) -> None:
        with self.lock:
            self.errors[_kind(exc)] += 1
            self.examples.append(f"{api}: {type(exc).__name__}: {str(exc)[:80]}")

    def summary(self, clients: int, wall: float) -> dict:
        every = np.array([x for xs in self.lat.values() for x in xs]) * 1000
        pct = lambda a, q: round(float(np.percentile(a, q)), 1) if len(a) else None
        n = int(sum(len(v) for v in self.lat.values()))
        return {"clients": clients, "requests": n + sum(self.errors.values()), "answered": n,
                "errors": self.errors, "error_examples": self.examples[:3],
                "p50_ms": pct(every, 50), "p95_ms": pct(every, 95),
                "per_endpoint": {api: {"n": len(v), "p50_ms": pct(np.array(v) * 1000, 50),
                                       "p95_ms": pct(np.array(v) * 1000, 95)} for api, v in self.lat.items()},
                "throughput_rps": round(n / wall, 2), "wall_s": round(wall, 1)}


def _orders(clients: int):
    """Each client's own order of the requests (seeded), so a burst mixes every endpoint."""
    for seed in range(clients):
        order = REQUESTS[:]
        random.Random(seed).shuffle(order)
        yield order


def drive(url: str, clients: int, seconds: float, timeout: float = CLIENT_TIMEOUT, client: str = "http") -> dict:
    """`clients` clients in a loop for `seconds`. client="http": Gradio's REST queue API (POST /call, then the
    answer's event stream) from one asyncio loop, a few ms of CPU per request, as remote visitors cost this
    machine nothing; client="gradio": a gradio_client.Client per thread (as session 10 measured), which on 2
    cores spent more CPU per request than the app itself (158 vs 130 ms at 64 clients) and slowed it."""
    tally, stop, t0 = _Tally(), time.perf_counter() + seconds, time.perf_counter()
    if client == "gradio":
        threads = [threading.Thread(target=_gradio_worker, args=(url, order, stop, timeout, tally))
                   for order in _orders(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        asyncio.run(_http_clients(url, clients, stop, timeout, tally))
    return tally.summary(clients, time.perf_counter() - t0)


def _gradio_worker(url: str, order: list, stop: float, timeout: float, tally: _Tally) -> None:
    from gradio_client import Client

    client, i = Client(url, verbose=False), 0
    while time.perf_counter() < stop:
        api, args = order[i % len(order)]
        t0 = time.perf_counter()
        try:
            client.submit(*args, api_name=api).result(timeout=timeout)
            tally.answered(api, time.perf_counter() - t0)
        except Exception as exc:  # counted by kind, the run goes on
            tally.failed(api, exc)
        i += 1


async def _http_clients(url: str, clients: int, stop: float, timeout: float, tally: _Tally) -> None:
    import httpx

    limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as http:
        async def one_client(order: list) -> None:
            # one session per visitor, as a browser tab keeps: Gradio builds a session's state (~24 ms for
            # this app's 386 components) on its first request only
            session, i = uuid.uuid4().hex, 0
            while time.perf_counter() < stop:
                api, args = order[i % len(order)]
                t0 = time.perf_counter()
                try:
                    await asyncio.wait_for(call_rest(http, api, args, session), timeout)
                    tally.answered(api, time.perf_counter() - t0)
                except Exception as exc:  # counted by kind, the run goes on
                    tally.failed(api, exc)
                i += 1

        await asyncio.gather(*(one_client(order) for order in _orders(clients)))


class AppError(Exception):
    """The app answered with an error event (a Gradio error message, or the queue's 'full' refusal)."""


async def call_rest(http, api: str, args, session: str | None = None) -> list:
    """One request through Gradio's REST queue API: POST /gradio_api/call/<api> queues it, the GET's event
    stream ends with 'complete' (the outputs) or 'error' (the message)."""
    name = api.lstrip("/")
    r = await http.post(f"gradio_api/call/{name}", json={"data": list(args), "session_hash": session})
    if r.status_code != 200:
        raise AppError(f"HTTP {r.status_code}: {r.text[:200]}")
    event = None
    async with http.stream("GET", f"gradio_api/call/{name}/{r.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                data = json.loads(line[5:])
                if event == "error":
                    raise AppError(str(data))
                return data
    raise AppError(f"the event stream ended without an answer (last event: {event})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--client", choices=["http", "gradio"], default="http",
                    help="http: Gradio's REST API from one asyncio loop (light); gradio: a gradio_client per thread")
    ap.add_argument("--concurrency", type=int, default=1, help="per-event concurrency limit of the app's queue")
    args = ap.parse_args()
    proc, url = start_app(args.concurrency)
    started = time.perf_counter()
    try:
        from gradio_client import Client

        warm = Client(url, verbose=False)
        for api, a in REQUESTS:  # load every model before timing
            warm.predict(*a, api_name=api)
        waited = wait_until_idle(proc.pid, started)
        print(f"warm-up done; waited {waited:.0f} s for the app to go idle", file=sys.stderr)
        runs = []
        for n in args.clients:
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            runs.append(drive(url, n, args.seconds, client=args.client))
            runs[-1]["server_cores_busy"] = round((cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - t0), 2)
            runs[-1]["server_peak_rss_mb"] = peak_rss_mb(proc.pid)  # since start; the model store's budget
            # is BERT_DEMO_MODEL_BUDGET_MB (models/loading.py)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    base = next((r["throughput_rps"] for r in runs if r["clients"] == 1), None)
    for r in runs:
        r["throughput_vs_one_client"] = round(r["throughput_rps"] / base, 2) if base else None
        print(json.dumps(r))


if __name__ == "__main__":
    main()
