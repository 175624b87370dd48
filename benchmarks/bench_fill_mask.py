"""Fill-mask latency vs transformers' own pipeline on the same model, and memory after loading.

    python -m benchmarks.bench_fill_mask [--model embedded-general] [--runs 50]

Prints one JSON object: p50/p95 ms of `models.fill_mask.predict` (which also cleans the
input, handles windows and builds the result) and of `pipeline("fill-mask")` on the same
~128-token input, their ratio, and the process RSS after loading.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import psutil

TEXT = ("The history of the city goes back more than two thousand years, when a small settlement grew up "
        "on the banks of the river. Over the centuries it became a centre of trade, learning and politics, "
        "and today it is known around the world for its museums, its parks and its food. Paris is the [MASK] "
        "of France, and millions of visitors come every year to walk along its wide avenues, climb its towers "
        "and sit in its cafes, watching the city go by. In the evening the lights come on along the river, "
        "and the bridges fill with people who have come to see the most famous views in Europe.")


def timed(fn, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded-general")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()

    from transformers import pipeline

    from models import fill_mask

    rss0 = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    lm = fill_mask.load(args.model)
    load_s = time.perf_counter() - t0
    rss = psutil.Process().memory_info().rss
    n_tokens = len(lm.tokenizer(TEXT.replace("[MASK]", lm.tokenizer.mask_token))["input_ids"])
    ours = timed(lambda: fill_mask.predict(TEXT, args.model, top_k=5), args.runs)
    pipe = pipeline("fill-mask", model=lm.model, tokenizer=lm.tokenizer, top_k=5)
    theirs = timed(lambda: pipe(TEXT.replace("[MASK]", lm.tokenizer.mask_token)), args.runs)
    print(json.dumps({"model": args.model, "input_tokens": n_tokens, "runs": args.runs,
                      "load_s": round(load_s, 2), "predict": ours, "pipeline": theirs,
                      "p50_ratio_ours_over_pipeline": round(ours["p50_ms"] / theirs["p50_ms"], 3),
                      "rss_mb_before_load": round(rss0 / 2**20), "rss_mb_after_load": round(rss / 2**20)}))


if __name__ == "__main__":
    main()
