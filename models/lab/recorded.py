"""The recorded comparison: every strategy x several seeds at an equal step budget, run once by a command and
shipped as a file, so a visitor sees the whole picture without training anything."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from models.errors import InputError
from models.lab import data, train

RECORDED = Path(__file__).resolve().parents[2] / "samples" / "lab" / "recorded.jsonl"


def record(task: str, examples: int, max_steps: int, seeds: list[int], names: list[str], out: str | Path,
           command: str, dev_size: int = 500) -> None:
    """Append one JSON line per (strategy, seed) as each finishes (an interrupted run keeps what it did; a
    rerun skips the pairs already in the file)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {(r["task"], r["strategy"], r["seed"]) for r in load(out)} if out.is_file() else set()
    tasks = {seed: data.load_task(task, examples, seed, dev_size) for seed in seeds}
    for name in names:  # strategy by strategy, each over every seed: an interrupted run has whole strategies
        for seed in seeds:
            if (task, name, seed) in done:
                continue
            task_data = tasks[seed]
            res = train.run(name, task_data, seconds=1e9, seed=seed, max_steps=max_steps, max_epochs=10_000,
                            curves=False)
            row = {**res.summary(), "metric_name": task_data.metric_name, "seed": seed,
                   "examples": len(task_data.train), "dev_rows": len(task_data.dev), "max_steps": max_steps,
                   "data": task_data.source, "command": command, "date": time.strftime("%Y-%m-%d")}
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("strategy", "seed", "metric", "seconds")}), flush=True)


def load(path: str | Path = RECORDED) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No recorded comparison at {path}; make it with `python -m models.lab record`.")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(rows: list[dict]) -> list[dict]:
    """One row per task and strategy: mean and std of the metric over seeds, and what the strategy trains."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["strategy"]), []).append(r)
    out = []
    for (task, name), rs in groups.items():
        metrics = [r["metric"] for r in rs]
        out.append({"task": task, "strategy": name, "metric": round(statistics.mean(metrics), 4),
                    "std": round(statistics.pstdev(metrics), 4), "seeds": sorted(r["seed"] for r in rs),
                    "trainable_params": rs[0]["trainable_params"], "stored_mb": rs[0]["stored_mb"],
                    "seconds": round(statistics.mean(r["seconds"] for r in rs), 1), "steps": rs[0]["steps"],
                    "examples": rs[0]["examples"]})
    return sorted(out, key=lambda r: (r["task"], -r["metric"]))
