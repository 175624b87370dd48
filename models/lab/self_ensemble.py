"""Self-ensemble and self-distillation (Xu et al. 2020, "Improving BERT Fine-Tuning via Self-Ensemble and
Self-Distillation"), with torch's own weight averaging (torch.optim.swa_utils.AveragedModel):
self-ensemble keeps the equal average of the checkpoints' weights (one every EVERY steps) as the model;
self-distillation keeps training the model itself, with an extra loss pulling its logits towards those of an
exponential moving average of its past weights (the teacher)."""
from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

EVERY = 10  # self-ensemble: a checkpoint every EVERY steps joins the average
TEACHER_DECAY = 0.99


def averaged_model(model, s) -> AveragedModel | None:
    if not s.average:
        return None
    if s.distill:
        return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(TEACHER_DECAY), use_buffers=True)
    return AveragedModel(model, use_buffers=True)


def distill_loss(teacher: AveragedModel, x, mask, logits: torch.Tensor, weight: float) -> torch.Tensor:
    """weight * mean squared difference between the model's logits and the teacher's (no gradient to it)."""
    with torch.no_grad():
        teacher.eval()
        target = teacher.module(x, mask)
    return weight * torch.nn.functional.mse_loss(logits, target)


def final_model(averaged: AveragedModel, model):
    """The averaged weights (self-ensemble); the model itself while no checkpoint was averaged yet."""
    return averaged.module if int(averaged.n_averaged) > 0 else model
