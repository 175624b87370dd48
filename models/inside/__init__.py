"""Look inside the tabs' models: attention, layer-wise predictions, head importance and pruning,
a 2-D projector of a data set, and token attribution.

Every view takes a model by its tab (task) and name, "tagging: embedded-upos", resolved through the
registry and loaded by that tab's own model module, so the views always show the very model the tab runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import registry
from models.errors import InputError

VIEW_TASKS = ("fill-mask", "qa", "tagging")  # the tabs whose models the views open


@dataclass
class Loaded:
    task: str
    name: str
    model: object  # a transformers PreTrainedModel
    tokenizer: object
    extra: object  # the tab's own wrapper (MaskedLM, QAModel, Tagger)


def model_choices() -> list[str]:
    """'tab: model' for every model of the covered tabs (embedded first)."""
    return [registry.choice(task, name) for task in VIEW_TASKS for name in registry.names(task)]


def load(choice: str) -> Loaded:
    """'tagging: embedded-upos' -> the tab's loaded model."""
    task, name = registry.parse_choice(choice, VIEW_TASKS)
    wrapper = registry.load(task, name)
    return Loaded(task, name, wrapper.model, wrapper.tokenizer, wrapper)


def encoder_layers(model) -> list:
    """The transformer blocks of a BERT-style model (BERT, RoBERTa, MiniLM)."""
    enc = getattr(model.base_model, "encoder", None)
    if enc is None or not hasattr(enc, "layer"):
        raise InputError(f"{type(model).__name__} is not a BERT-style encoder; this view supports BERT and RoBERTa.")
    return list(enc.layer)
