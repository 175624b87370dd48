"""Does a lab run starve the other tabs? Fill-mask latency idle, then while the lab trains full fine-tuning.

    python -m benchmarks.bench_lab_load [--runs 40] [--strategy full]

Prints one JSON object: fill-mask p50/p95 ms idle and during training, their ratio (the target: p50 within
3x of idle), and the lab's steps meanwhile. The lab's thread runs with torch on one thread (models/lab/runner.py).
"""
from __future__ import annotations

import argparse
import json
import time

from benchmarks.bench_fill_mask import timed

TEXT = "Paris is the [MASK] of France, and millions of visitors come every year."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--strategy", default="full")
    args = ap.parse_args()
    from models import fill_mask
    from models.lab import data, runner

    fill_mask.load()
    idle = timed(lambda: fill_mask.predict(TEXT), args.runs)
    task = data.load_task("sst2", 2000, 0)
    run = runner.start(task, [args.strategy], seconds=runner.MAX_SECONDS)
    while not run.points[args.strategy] and not run.finished.is_set():  # past its model load: training
        time.sleep(0.5)
    busy = timed(lambda: fill_mask.predict(TEXT), args.runs, warmup=1)
    steps = run.points[args.strategy][-1][0] if run.points[args.strategy] else 0
    run.cancel()
    run.finished.wait(60)
    print(json.dumps({"idle": idle, "while_training": busy, "p50_ratio": round(busy["p50_ms"] / idle["p50_ms"], 2),
                      "lab_strategy": args.strategy, "lab_steps_by_then": steps}))


if __name__ == "__main__":
    main()
