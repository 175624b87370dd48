"""Inference precision: bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 / AMX) and where it
was measured to agree with fp32, else fp32.

Measured by `python -m benchmarks.bench_precision` and the eval commands (RESULTS.md, sessions 4 and 6): QA and
tagging in bf16 stay within 0.2 F1 points of fp32 and run up to 2x faster (QA over 20k characters); fill-mask
with the session-5 masked LMs is no faster in bf16 (23.2-28.5 vs 23.4-25.8 ms p50) and its top-1 agrees with
fp32 at only 98.2 % of 330 masks (the issue's bar is 99 %), so fill-mask runs fp32. Dynamic int8 was faster
still but agreed at only 66-68 %, so it is not used. `BERT_DEMO_PRECISION=fp32` turns bf16 off everywhere.
"""
from __future__ import annotations

import contextlib
import functools
import os

import torch


@functools.lru_cache(maxsize=1)
def bf16_enabled() -> bool:
    choice = os.environ.get("BERT_DEMO_PRECISION", "auto").lower()
    if choice in ("fp32", "float32"):
        return False
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return native or choice == "bf16"


BF16_TASKS = frozenset({"qa", "tagging", "embeddings"})  # not "fill-mask": see the module docstring


def autocast(task: str):
    """Context for a model's forward pass of `task` (a no-op where bf16 is off or not measured to agree)."""
    if task in BF16_TASKS and bf16_enabled():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
