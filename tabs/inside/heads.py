"""Look inside: Head importance and pruning for a tagger (Michel et al., 2019)."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from models.errors import InputError
from models.inside import heads
from tabs import plots
from tabs.common import clear_on_failure, figure_files, run_model, table_files
from tabs.inside.shared import HEAD_TAGGERS
import matplotlib.pyplot as plt  # noqa: E402 (after shared sets the backend)


# ---------- heads ----------

def _heatmap(imp):
    fig, ax = plt.subplots(figsize=(1 + 0.45 * imp.shape[1], 0.9 + 0.45 * imp.shape[0]))
    im = ax.imshow(imp, cmap="viridis")
    ax.set_xticks(range(imp.shape[1]), [str(h + 1) for h in range(imp.shape[1])])
    ax.set_yticks(range(imp.shape[0]), [str(l + 1) for l in range(imp.shape[0])])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title("Head importance |dL/dgate| (normalised per layer)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    plt.close(fig)
    return fig


def parse_heads(spec: str) -> list[tuple[int, int]]:
    """'1-3, 2-5' (layer-head, 1-based) -> [(0, 2), (1, 4)]."""
    out = []
    for part in (spec or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            layer, head = (int(x) for x in part.strip().split("-"))
        except ValueError:
            raise InputError(f"'{part.strip()}' is not layer-head (e.g. 2-5).") from None
        out.append((layer - 1, head - 1))
    return out


def show_pruning(model: str, upload, progress=gr.Progress()):
    progress(0, desc="Computing head importance")
    curve = run_model(heads.pruning_curve, model, upload, progress=lambda f, d: progress(f, desc=d))
    points = pd.DataFrame({"fraction of heads pruned": curve.fractions, "accuracy": curve.accuracies})
    nl, nh = curve.importance.shape
    least = heads.pruning_order(curve.importance)[:5]
    info = (f"`{curve.model}`: {nl} layers × {nh} heads, {curve.n_words:,} labelled words. Least important heads "
            f"(layer-head): {', '.join(f'{l + 1}-{h + 1}' for l, h in least)}. A layer's last head is never pruned.")
    heat = _heatmap(curve.importance)
    importance = pd.DataFrame(curve.importance, index=pd.Index(range(1, nl + 1), name="layer"),
                              columns=[f"head {h + 1}" for h in range(nh)]).round(5).reset_index()
    files = (figure_files(heat, "head-importance") + table_files(importance, "head-importance")
             + table_files(points, "pruning-curve")
             + figure_files(plots.line_figure(points, "fraction of heads pruned", "accuracy"), "pruning-curve"))
    return info, heat, points, files


def prune_and_score(model: str, upload, spec: str):
    base, pruned, n = run_model(lambda: heads.prune_and_score(model, upload, parse_heads(spec)))
    return f"Accuracy with all heads: **{base:.4f}**; with {n} head(s) pruned: **{pruned:.4f}** ({pruned - base:+.4f})."


def build() -> None:
    with gr.Tab("Heads"):
        gr.Markdown("Importance of each head for a tagger on a labelled set (built-in: 100 sentences of the model's "
                    "data set; or upload CoNLL-U for UPOS / CoNLL-2003 for NER), then the least important heads "
                    "pruned step by step.")
        with gr.Row():
            h_model = gr.Dropdown(HEAD_TAGGERS, value=HEAD_TAGGERS[0], label="Tagger")
            h_file = gr.File(label="Labelled file (optional, .conllu / CoNLL)", file_types=[".conllu", ".txt", ".conll"],
                             type="filepath")
        h_btn = gr.Button("Importance and pruning curve", variant="primary")
        h_notes = gr.Markdown(label="Notes")
        with gr.Row():
            h_heat = gr.Plot(label="Head importance")
            h_curve = gr.LinePlot(x="fraction of heads pruned", y="accuracy", label="Accuracy vs heads pruned")
        h_files = gr.File(label="Downloads: importance (PNG, SVG, CSV, JSON), pruning curve (CSV, JSON, PNG, SVG)",
                          file_count="multiple")
        with gr.Row():
            h_spec = gr.Textbox(label="Prune these heads (layer-head, e.g. 1-3, 2-5)", value="1-1, 2-2")
            h_prune = gr.Button("Prune and re-evaluate")
        h_result = gr.Markdown(label="Pruning result")
        clear_on_failure(h_btn.click(show_pruning, [h_model, h_file], [h_notes, h_heat, h_curve, h_files],
                                     api_name="inside_pruning"), [h_heat, h_curve, h_files], h_notes)
        clear_on_failure(h_prune.click(prune_and_score, [h_model, h_file, h_spec], h_result, api_name="inside_prune"),
                         [], h_result)
