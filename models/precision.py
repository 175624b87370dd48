"""Inference precision: bf16 autocast where the CPU computes bf16 natively (AVX512-BF16 / AMX), else fp32.

Measured by `python -m benchmarks.bench_precision` (RESULTS.md, session 4): on this CPU bf16 cut the
fill-mask p50 by ~40 % with top-1 identical to fp32 at 99.1 % of 330 masks; dynamic int8 was faster still
but agreed at only 68 %, so it is not used. `BERT_DEMO_PRECISION=fp32` turns bf16 off.
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


def autocast():
    """Context for a model's forward pass (a no-op where bf16 is off)."""
    if bf16_enabled():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
