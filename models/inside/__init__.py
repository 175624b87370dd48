"""Look inside the tabs' models: attention, layer-wise predictions, head importance and pruning,
a 2-D projector of a data set, and token attribution.

Every view takes a model by its tab (task) and name, "tagging: embedded-upos", resolved through the
registry and loaded by that tab's own model module, so the views always show the very model the tab runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import fill_mask, qa, registry, tagging, tasks
from models.errors import InputError
from models.registry import VIEW_TASKS
from models.trace import Trace


@dataclass
class Loaded:
    task: str
    name: str
    model: object  # a transformers PreTrainedModel
    tokenizer: object
    extra: object  # the tab's own wrapper (MaskedLM, QAModel, Tagger)


# each view-task's trace of one text box: what its tab's predict() runs for that text
VIEW_TRACES = {fill_mask.TASK: fill_mask.trace, qa.TASK: qa.view_trace, tagging.TASK: tagging.view_trace}


def task_trace(m: Loaded, text: str) -> Trace:
    """The input `m`'s own tab builds for `text` (same window, mask token, pieces); views draw its first window."""
    return VIEW_TRACES[m.task](m.extra, text)


def model_choices(view: str = "attention") -> list[str]:
    """'tab: model' for every model `view` can open (the registry's capabilities), embedded first per tab."""
    return [registry.choice(c.task, c.name) for c in registry.for_view(view)]


def load(choice: str, view: str | None = None) -> Loaded:
    """'tagging: embedded-upos' -> the tab's loaded model; `view`: refuse a model that view cannot open."""
    task, name = registry.parse_choice(choice, VIEW_TASKS)
    checkpoint = registry.get(task, name)
    if view and not checkpoint.supports(view):
        raise InputError(f"The {view} view cannot open {choice} (its family, "
                         f"{checkpoint.family.value}, names its parts differently); pick one of: "
                         f"{', '.join(model_choices(view))}.")
    wrapper = tasks.load(task, name)
    return Loaded(task, name, wrapper.model, wrapper.tokenizer, wrapper)


def encoder_layers(model) -> list:
    """The transformer blocks of a BERT-style model (BERT, RoBERTa, MiniLM)."""
    enc = getattr(model.base_model, "encoder", None)
    if enc is None or not hasattr(enc, "layer"):
        raise InputError(f"{type(model).__name__} is not a BERT-style encoder; this view supports BERT and RoBERTa.")
    return list(enc.layer)
