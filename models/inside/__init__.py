"""Look inside the tabs' models: attention, layer-wise predictions, head importance and pruning,
a 2-D projector of a data set, and token attribution.

Every view takes a model by its tab and name (`source`), loaded through that tab's own model module,
so the views always show the very model the tab runs.
"""
from __future__ import annotations

from dataclasses import dataclass

from models import fill_mask, qa, tagging
from models.errors import InputError

# tab -> (model module, what the tab's model does)
SOURCES = {"fill-mask": fill_mask, "qa": qa, "tagging": tagging}


@dataclass
class Loaded:
    source: str
    name: str
    model: object  # a transformers PreTrainedModel
    tokenizer: object
    extra: object  # the tab's own wrapper (MaskedLM, QAModel, Tagger)


def model_choices() -> list[str]:
    """'tab: model' for every model of the covered tabs (embedded first)."""
    return [f"{src}: {name}" for src, mod in SOURCES.items() for name in mod.model_names()]


def load(choice: str) -> Loaded:
    """'tagging: embedded-upos' -> the tab's loaded model."""
    src, _, name = (choice or "").partition(": ")
    if src not in SOURCES or not name:
        raise InputError(f"Unknown model '{choice}'; pick one of: {', '.join(model_choices())}.")
    wrapper = SOURCES[src].load(name)
    return Loaded(src, name, wrapper.model, wrapper.tokenizer, wrapper)


def encoder_layers(model) -> list:
    """The transformer blocks of a BERT-style model (BERT, RoBERTa, MiniLM)."""
    enc = getattr(model.base_model, "encoder", None)
    if enc is None or not hasattr(enc, "layer"):
        raise InputError(f"{type(model).__name__} is not a BERT-style encoder; this view supports BERT and RoBERTa.")
    return list(enc.layer)
