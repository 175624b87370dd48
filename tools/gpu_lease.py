"""What every GPU-lease campaign shares: a time budget, recipe jobs launched side by side, their logs in one
file, and results returned as a few files under $OUT (a lease returns at most 8 files of 16 MiB each, so
weight files travel back as split tar parts; `join_parts` puts them together here).

The lease box has torch, transformers, peft and accelerate but no network, no ../shared/data and none of our
other pins; each campaign builds an ignored bundle folder here that carries the rest (see tools/zh_gpu_campaign and
en_gpu_campaign).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path


def add_lease_arguments(ap, bundle: str, work: str, budget: float) -> None:
    """The arguments every campaign takes: build the bundle here, or run on the lease box from it."""
    ap.add_argument("--build-bundle", help="build the bundle folder here and stop")
    ap.add_argument("--bundle", default=bundle)
    ap.add_argument("--work", default=work)
    ap.add_argument("--budget", type=float, default=budget, help="seconds for the whole command")


class Lease:
    def __init__(self, budget: float, bundle: str, work: str, out_default: str, env: dict | None = None):
        self.budget, self.t0 = budget, time.time()
        self.out = Path(os.environ.get("OUT", out_default))
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(work)
        self.work.mkdir(parents=True, exist_ok=True)
        self.bundle = Path(bundle).resolve()
        self.env = {**os.environ, "PYTHONPATH": f"{self.bundle / 'site'}:{os.getcwd()}", "PYTHONUNBUFFERED": "1",
                    "TOKENIZERS_PARALLELISM": "false", **(env or {})}
        self.results: dict = {}

    def left(self) -> float:
        return self.budget - (time.time() - self.t0)

    def log(self, msg: str) -> None:
        line = f"[{time.time() - self.t0:6.0f}s] {msg}"
        print(line, flush=True)
        with open(self.out / "log.txt", "a") as f:
            f.write(line + "\n")

    def launch(self, module: str, name: str, argv: list[str], threads: int) -> tuple[str, subprocess.Popen, Path]:
        """Start `python -m recipes.<module> argv` in the background, its output in work/<name>.log."""
        logf = self.work / f"{name}.log"
        env = {**self.env, "OMP_NUM_THREADS": str(threads)}
        p = subprocess.Popen([sys.executable, "-m", f"recipes.{module}", *argv], env=env,
                             stdout=open(logf, "w"), stderr=subprocess.STDOUT)
        self.log(f"started {name}: {module} {' '.join(argv)}")
        return name, p, logf

    def wait(self, jobs, timeout: float) -> None:
        end = time.time() + timeout
        for name, p, logf in jobs:
            try:
                p.wait(timeout=max(1.0, end - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.log(f"{name}: killed at the time box")
            tail = logf.read_text(errors="replace").splitlines()[-6:]
            self.log(f"{name}: exit {p.returncode}\n    " + "\n    ".join(tail))
            with open(self.out / "log.txt", "a") as f:  # every job's full log comes back in one file
                f.write(f"===== {name} =====\n{logf.read_text(errors='replace')}\n")

    def pack(self, name: str, files: list[Path]) -> None:
        tar = self.work / f"{name}.tar"
        with tarfile.open(tar, "w") as t:
            for f in files:
                t.add(f, arcname=f.name)
        data, i = tar.read_bytes(), 0
        for i, start in enumerate(range(0, len(data), 15 * 2**20)):
            (self.out / f"{name}.tar.part{i}").write_bytes(data[start:start + 15 * 2**20])
        self.log(f"packed {[f.name for f in files]} into {i + 1} part(s)")
        self.save_results()

    def save_results(self) -> None:
        (self.out / "results.json").write_text(json.dumps(self.results, indent=1, default=str))


def read_meta(path: Path) -> dict:
    if not path.exists():
        return {}
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}


def join_parts(folder: str | Path, name: str, dest: str | Path) -> list[str]:
    """Here, after the lease: join <name>.tar.part* from `folder` and unpack into `dest`."""
    parts = sorted(Path(folder).glob(f"{name}.tar.part*"), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    tar = Path(dest) / f"{name}.tar"
    Path(dest).mkdir(parents=True, exist_ok=True)
    tar.write_bytes(b"".join(p.read_bytes() for p in parts))
    with tarfile.open(tar) as t:
        t.extractall(dest, filter="data")
        return t.getnames()
