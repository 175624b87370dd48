"""QA latency over contexts of 1k, 5k and 20k characters (windows batched), in one run.

    python -m benchmarks.bench_qa [--model embedded-squad] [--runs 10]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tabs.qa import TELEPHONE


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="embedded-squad")
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    from models import qa

    model = qa.load(args.model)
    question = "Who was awarded the first US patent for the telephone?"
    out = {"model": args.model, "runs": args.runs}
    for n_chars in (1_000, 5_000, 20_000):
        context = (TELEPHONE * (n_chars // len(TELEPHONE) + 1))[:n_chars]
        r = qa.predict(question, context, model)  # warm-up, and the window count
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            qa.predict(question, context, model)
            times.append((time.perf_counter() - t0) * 1000)
        out[f"{n_chars // 1000}k"] = {"windows": len(r.windows), "p50_ms": round(float(np.median(times)), 1),
                                      "p95_ms": round(float(np.percentile(times, 95)), 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
