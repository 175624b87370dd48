"""Build any registry checkpoint: each task's own load function, by task name.

The registry (models/registry.py) is data only; this is the one place that knows which task module builds
which task's models, so the views, batch mode and the evaluation CLI can open "tagging: embedded-upos"
without knowing the tagging module.
"""
from __future__ import annotations

from typing import Any, Callable

from models import fill_mask, qa, registry, sentence_embedding, tagging
from models.chinese import mlm as chinese_mlm
from models.prompt import causal_lm, nli, supervised

LOADERS: dict[str, Callable[[str], Any]] = {
    "fill-mask": fill_mask.load, "qa": qa.load, "tagging": tagging.load,
    "chinese-mlm": chinese_mlm.load, "chinese-sentiment": chinese_mlm.load_classifier,
    "sentence-embedding": sentence_embedding.load,
    "causal-lm": causal_lm.load_causal_lm, "nli": nli.load_nli, "sentiment": supervised.load_supervised,
}
assert set(LOADERS) == set(registry.TASKS), "every registry task needs its load function here"


def load(task: str, name: str):
    """The task module's loaded model for a checkpoint (built once per process)."""
    registry.get(task, name)  # an unknown name gets the registry's clear message
    return LOADERS[task](name)
