"""The small in-app training loop the few-shot methods share (prompt fine-tuning, SetFit)."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch


def run_steps(model: torch.nn.Module, params: Iterable[torch.nn.Parameter], batches: Sequence,
              loss_fn: Callable[[object], torch.Tensor], lr: float,
              progress: Callable[[float, str], None] | None = None, what: str = "Training") -> list[float]:
    """One AdamW step per batch (in the order given), reporting progress; the model ends in eval mode
    with every parameter frozen (it is a private copy that only serves predictions afterwards)."""
    opt = torch.optim.AdamW(list(params), lr=lr)
    model.train()
    losses = []
    for step, batch in enumerate(batches, 1):
        loss = loss_fn(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if progress:
            progress(step / len(batches), f"{what}: step {step}/{len(batches)}, loss {losses[-1]:.3f}")
    model.eval()
    for p in model.parameters():
        p.requires_grad = False
    return losses
