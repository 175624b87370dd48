"""The training loop every recipe shares: AdamW, linear warm-up + cosine decay, clipping,
periodic logging and resumable checkpoints of the trainable (adapter) weights."""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable

import torch

from models import embedded

ROOT = Path(__file__).resolve().parent.parent
RUNS_DIR = ROOT / "runs"  # resumable checkpoints, whatever the working directory
# the shared data sets (read, never copied into the repo); BERT_DEMO_DATA overrides
DATA_DIR = os.environ.get("BERT_DEMO_DATA", str(ROOT.parent / "shared" / "data"))


def run_dir_for(out: str | Path, given: str | None = None) -> Path:
    """Where a recipe writing `out` keeps its resumable state: --run-dir, else runs/<out stem>."""
    return Path(given) if given else RUNS_DIR / Path(out).stem


def train_top_layers(peft_model, n: int) -> None:
    """Also train the top n encoder layers in full (on top of the LoRA adapters and the head)."""
    if not n:
        return
    n_layers = peft_model.base_model.model.config.num_hidden_layers
    top = tuple(f"encoder.layer.{i}." for i in range(n_layers - n, n_layers))
    for name, p in peft_model.named_parameters():
        if any(t in name for t in top):
            p.requires_grad = True


def command_line(recipe: str) -> str:
    """The exact command that ran, for the weight file's metadata (the README must quote it)."""
    import shlex
    import sys

    return f"python -m recipes.{recipe} " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def optimizer_and_schedule(params, lr: float, steps: int, weight_decay: float = 0.01):
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, 0.5 * (1 + math.cos(math.pi * s / steps))))
    return opt, sched


def continue_from_committed(peft_model, out: str | Path, run_dir: Path) -> int:
    """A time-boxed run whose checkpoint folder is gone (a new machine) continues from the weights it
    committed, when they stopped before their planned steps; returns the step they reached (0: start over)."""
    if (run_dir / "state.pt").exists() or not Path(out).is_file():
        return 0
    state, meta = embedded.read_adapter(out)
    done, planned = int(meta.get("steps_done") or 0), int(meta.get("steps") or 0)
    if not 0 < done < planned:
        return 0
    embedded.load_adapter_into(peft_model, state)
    print(f"continuing from {out} (step {done} of {planned}; optimiser state starts afresh)")
    return done


def resume(acc, model, opt, sched, run_dir: Path | None) -> int:
    """Restore the last checkpoint in run_dir, if any; returns the step to continue from."""
    if run_dir is None or not (run_dir / "state.pt").exists():
        return 0
    ck = torch.load(run_dir / "state.pt", weights_only=True)  # tensors and plain containers only: no code runs
    embedded.load_adapter_into(acc.unwrap_model(model), ck["adapter"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    acc.print(f"resumed at step {ck['step']}")
    return ck["step"]


def save_checkpoint(acc, model, opt, sched, step: int, run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.save({"adapter": embedded.trainable_state(acc.unwrap_model(model)), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "step": step}, run_dir / "state.pt")


def train(acc, model, loader, opt, sched, steps: int, loss_fn: Callable[[dict], torch.Tensor],
          run_dir: Path | None = None, save_every: int = 200, log_every: int = 25,
          minutes: float = 0, start_step: int = 0, bf16: bool = False) -> tuple[float, int]:
    """Run optimiser steps up to `steps` (cycling over `loader`), or until `minutes` have passed (time-boxed:
    a checkpoint is saved at the stop, and the same command resumes). bf16: CPU autocast (AMX matrix units;
    master weights and optimiser stay fp32). Returns (training seconds, last step)."""
    params = [p for p in model.parameters() if p.requires_grad]
    step = resume(acc, model, opt, sched, run_dir) or start_step
    t0, losses = time.time(), []
    deadline = t0 + 60 * minutes if minutes else None
    out_of_time = False  # checked after each step, so every run makes progress
    # a resumed run skips the batches of the current pass it already trained on (same seeded order)
    skip = step % len(loader) if step and hasattr(loader, "__len__") and len(loader) else 0
    model.train()
    while step < steps and not out_of_time:
        for batch in loader:
            if skip:
                skip -= 1
                continue
            if step >= steps or out_of_time:
                break
            with torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(batch)
            acc.backward(loss)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            losses.append(loss.item())
            if step % log_every == 0:
                acc.print(f"step {step}/{steps} loss {sum(losses[-log_every:]) / log_every:.4f} "
                          f"({(time.time() - t0) / len(losses):.2f}s/step)", flush=True)
            if run_dir is not None and step % save_every == 0:
                save_checkpoint(acc, model, opt, sched, step, run_dir)
            out_of_time = deadline is not None and time.time() > deadline
    if run_dir is not None:
        save_checkpoint(acc, model, opt, sched, step, run_dir)
    model.eval()
    return time.time() - t0, step
