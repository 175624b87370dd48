"""What the Look-inside view groups share: the registry's model lists per view, the sentiment preset, the
attention view's page template. (matplotlib draws off-screen: set here, before any group imports pyplot.)"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from models import prompt_cls, registry  # noqa: E402

VIEW_TEMPLATE = Path(__file__).resolve().parent.parent / "assets" / "attention_view.html"
SENTIMENT = prompt_cls.SST2_PRESET


def names_for(view: str) -> list[str]:
    """The model names a view offers (one tab's models): the registry's capabilities decide."""
    return [c.name for c in registry.for_view(view)]


HEAD_TAGGERS = names_for("heads")  # taggers with a labelled sample
