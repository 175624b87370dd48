"""Seconds a batch-mode run of the built-in sample takes (Look inside -> Batch), per task.

    python -m benchmarks.bench_batch                 # every task
    python -m benchmarks.bench_batch --tasks qa      # the QA sample (10 SQuAD questions)

The first run of a task includes loading its model; `--repeat 2` prints a warm run too."""
from __future__ import annotations

import argparse
import time

from models.inside import batch


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(batch.RUNNERS), choices=list(batch.RUNNERS))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    for task in args.tasks:
        for run in range(args.repeat):
            t0 = time.perf_counter()
            res = batch.run_batch(None, task=task)
            s = time.perf_counter() - t0
            print(f"{task}: run {run + 1}: {len(res.rows)} rows in {s:.2f} s ({s / len(res.rows):.2f} s a row)"
                  f"{' (includes loading the model)' if run == 0 else ''}", flush=True)


if __name__ == "__main__":
    main()
