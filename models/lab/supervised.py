"""The prompt tab's `supervised` backend: the lab's full fine-tuning strategy trained on every SST-2 training
row, so a visitor compares zero- and few-shot prompting with full supervision on the same inputs.

    python -m models.lab supervised --epochs 2 --out weights/sst2-supervised.safetensors   (trains: 61 min on 2 cores)
    python -m models.eval sst2 data/corpora/sst2-heldout.tsv --backend supervised          (evaluates)

The backend that loads and runs it: models/prompt/supervised.py.

Trained on the SST-2 pool less every row that is a phrase of a held-out sentence (SST-2 lists each
sentence's phrases as rows of their own), so the held-out accuracy is not inflated by seen phrases.
Same model, head and loop as the lab's `full` strategy (models/lab/train.py), with two changes a long run
wants: a linear warm-up and decay of the learning rate, and the word embeddings frozen. Frozen embeddings
cost nothing measurable on SST-2 and keep the shipped file small: it stores only the tensors that changed,
as int8 deltas on the MiniLM encoder (models/compact.py), about 11 MB instead of 23.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from models import compact, embedded
from models.lab import data as lab_data, train
from models.lab.model import LabModel

WEIGHTS = embedded.WEIGHTS_DIR / "sst2-supervised.safetensors"  # what the backend loads (registry row)

STRATEGY = "full"
FROZEN = ("encoder.embeddings.word_embeddings.weight",)
WARMUP = 0.06  # of the steps


def freeze_and_schedule(run: train._Run) -> None:
    """`prepare` hook: the word embeddings frozen (the optimiser skips them), linear warm-up then decay."""
    params = dict(run.model.named_parameters())
    for name in FROZEN:
        params[name].requires_grad = False
    total = run.max_steps or 1
    warm = max(1, int(total * WARMUP))
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(
        run.optimiser, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm))))


def train_supervised(examples: int, epochs: int, seed: int, out: str | Path, command: str) -> dict:
    task = lab_data.load_task("sst2", examples, seed)
    task.train, dropped = lab_data.without_heldout_phrases(task.train)
    task.source += f"; {dropped:,} rows that are phrases of held-out sentences left out"
    steps = epochs * math.ceil(len(task.train) / train.BATCH)
    print(f"# {task.source}; {steps} steps", flush=True)
    t0 = time.time()
    res = train.run(STRATEGY, task, seconds=1e9, seed=seed, max_steps=steps, max_epochs=epochs,
                    prepare=freeze_and_schedule,
                    progress=lambda msg, _: print(f"{time.time() - t0:7.0f}s {msg}", flush=True))
    meta = {"task": "sst2", "labels": task.labels, "strategy": STRATEGY, "frozen": list(FROZEN),
            "dev_accuracy": round(res.metric, 4), "dev_rows": len(task.dev), "train_rows": len(task.train),
            "steps": res.steps, "epochs": epochs, "seed": seed, "data": task.source, "command": command,
            "seconds": round(res.seconds), "date": time.strftime("%Y-%m-%d")}
    save(res.model, out, meta)
    return meta


def save(model: LabModel, out: str | Path, meta: dict) -> None:
    """The tensors that changed (every one but the frozen), as int8 deltas on the encoder where it has them."""
    from safetensors.torch import save_file

    state = {k: v.detach() for k, v in model.state_dict().items() if k not in FROZEN}
    reference = embedded.reference_state(compact.ENCODER)
    stored = compact.compact_state(state, reference, compact.reference_name(compact.ENCODER))
    meta = {**meta, "delta_of": compact.ENCODER}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_file(stored, str(out), metadata={k: json.dumps(v) for k, v in meta.items()})
    compact.record_reference(Path(out), stored, compact.ENCODER, reference)  # checked at every load
