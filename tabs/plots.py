"""Figures more than one tab shows."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from models import tagging  # noqa: E402


def layer_probe_plot():
    """Accuracy / F1 per layer from the layer-selection probes (recipes/train_tagger.py --probe);
    None when no probe results ship."""
    results = tagging.layer_probe_results()
    if not results:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, task in zip(axes, ("upos", "ner")):
        res = results.get(task)
        if res is None:
            ax.set_axis_off()
            continue
        layers = [r for r in res["rows"] if r["layer"] is not None]
        mix = [r for r in res["rows"] if r["layer"] is None]
        ax.plot([r["layer"] for r in layers], [r["metric"] for r in layers], "o-", label="one layer")
        if mix:
            ax.axhline(mix[0]["metric"], color="#dc2626", ls="--", label="learned mix of all layers")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # layers are whole numbers
        ax.set_ylabel(res["metric"])
        ax.set_title(f"{task.upper()}: frozen features, linear tagger")
        ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def line_figure(df, x: str, y: str, color: str | None = None, title: str = "", scatter: bool = False):
    """The data of one of Gradio's native line / scatter plots drawn by matplotlib, for its PNG / SVG download
    (Gradio's own plots cannot be saved as images)."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    groups = df.groupby(color, sort=False) if color else [("", df)]
    for name, part in groups:
        if scatter:
            ax.scatter(part[x], part[y], s=12, label=name or None)
        else:
            ax.plot(part[x], part[y], "o-", ms=3, label=name or None)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if x == "layer":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        ax.set_title(title, fontsize=10)
    if color:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    plt.close(fig)
    return fig
