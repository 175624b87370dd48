"""Cold start and memory of the served app.

    python -m benchmarks.cold_start

Starts `python app.py`, and prints one JSON line: seconds until the port answers, until the first
fill-mask answer (its model loaded on demand), and RSS of the app process after start, after the first
answer, and after every embedded model of every tab has answered once (the worst case for a Space).
"""
from __future__ import annotations

import json
import time

import psutil

from benchmarks.load_test import REQUESTS, start_app

EVERY_MODEL = REQUESTS + [
    ("/fill_mask", ("This is a great [MASK].", "embedded-movies", 5)),
    ("/tag", ("The quick brown fox jumps.", "Parts of speech", "embedded-upos", "first")),
    ("/chinesebert_fill", ("我喜欢[MASK]。", "zh-char")),
    ("/chinesebert_sentiment", ("这家酒店的服务很好。", "zh-fused")),
    ("/chinesebert_sentiment", ("这家酒店的服务很好。", "zh-char")),
    ("/classify", ("a gorgeous, witty, seductive movie.", "{text} It was {mask}.", REQUESTS[3][1][2], "causal-lm",
                   "embedded-general", False, REQUESTS[3][1][6], False)),  # SmolLM2-135M (GGUF from PyPI)
]


def rss_mb(proc) -> float:
    p = psutil.Process(proc.pid)
    return round(sum(c.memory_info().rss for c in [p] + p.children(recursive=True)) / 2**20, 1)


def main() -> None:
    from gradio_client import Client

    t0 = time.perf_counter()
    proc, url = start_app(2)
    try:
        port_s = time.perf_counter() - t0
        rss_start = rss_mb(proc)
        client = Client(url, verbose=False)
        client.predict(*REQUESTS[0][1], api_name=REQUESTS[0][0])
        first_s = time.perf_counter() - t0
        rss_first = rss_mb(proc)
        t1 = time.perf_counter()
        for api, args in EVERY_MODEL:
            client.predict(*args, api_name=api)
        all_s = time.perf_counter() - t1
        print(json.dumps({"port_open_s": round(port_s, 2), "first_answer_s": round(first_s, 2),
                          "load_all_models_s": round(all_s, 2), "rss_mb_started": rss_start,
                          "rss_mb_after_first_answer": rss_first, "rss_mb_all_embedded_models": rss_mb(proc)}))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
