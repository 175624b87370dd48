"""The lab's tasks as labelled rows: a training set of the size asked for and a fixed development set."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from models import readers
from models.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
# SST-2 prepared by `python -m recipes.prepare_corpora` (training pool; held-out rows never trained on), else
# the 300-row sample that ships with the app
SST2_POOL, SST2_DEV = ROOT / "data/corpora/sst2-pool.tsv", ROOT / "data/corpora/sst2-heldout.tsv"
SST2_SAMPLE = ROOT / "samples/sst2-300.tsv"
TASKS = ("sst2",)


@dataclass
class TaskData:
    task: str
    labels: list[str]
    train: list[tuple[str, int]]
    dev: list[tuple[str, int]]
    source: str


def load_task(task: str = "sst2", examples: int = 2000, seed: int = 0, dev_size: int = 500) -> TaskData:
    """`examples` training rows drawn with `seed`, and the first `dev_size` development rows (always the same)."""
    if task not in TASKS:
        raise InputError(f"Unknown lab task '{task}'; choose one of {', '.join(TASKS)}.")
    if examples < 2:
        raise InputError("Train on at least 2 examples.")
    if SST2_POOL.is_file() and SST2_DEV.is_file():
        pool, dev = readers.read_labelled_tsv(SST2_POOL), readers.read_labelled_tsv(SST2_DEV)[:dev_size]
        source = f"SST-2: {examples} of {len(pool):,} training rows, {len(dev)} held-out rows"
    else:  # a Space, or a machine without the shared data: the shipped sample, split
        rows = readers.read_labelled_tsv(SST2_SAMPLE)
        dev, pool = rows[:100], rows[100:]
        source = f"SST-2 sample: {min(examples, len(pool))} training rows, {len(dev)} development rows"
    labels = sorted({label for _, label in pool})
    train = random.Random(seed).sample(pool, min(examples, len(pool)))
    index = {label: i for i, label in enumerate(labels)}
    return TaskData(task, labels, [(t, index[l]) for t, l in train], [(t, index[l]) for t, l in dev], source)
