"""Look inside: Two models compared: linear CKA of every layer pair, and a prediction diff."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from models import fill_mask, registry
from models.inside import compare, model_choices
from tabs.common import clear_on_failure, export_file, figure_files, notices_markdown, run_model
import matplotlib.pyplot as plt  # noqa: E402 (after shared sets the backend)


# ---------- compare two models ----------

def _cka_plot(res: compare.Comparison):
    na, nb = res.cka.shape
    fig, ax = plt.subplots(figsize=(1.6 + 0.6 * nb, 1.2 + 0.55 * na))
    im = ax.imshow(res.cka, cmap="viridis", vmin=0, vmax=1, origin="lower")
    for i in range(na):
        for j in range(nb):
            ax.text(j, i, f"{res.cka[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if res.cka[i, j] > 0.6 else "white")
    ax.set_xticks(range(nb), ["emb"] + [str(j) for j in range(1, nb)])
    ax.set_yticks(range(na), ["emb"] + [str(i) for i in range(1, na)])
    ax.set_xlabel(f"B: {res.model_b} (layer)")
    ax.set_ylabel(f"A: {res.model_a} (layer)")
    ax.set_title(f"Linear CKA over {res.n_words} words")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    plt.close(fig)
    return fig


def show_comparison(text: str, model_a: str, model_b: str):
    res = run_model(compare.compare, text, model_a, model_b)
    labels_a = ["embeddings"] + [f"A layer {i}" for i in range(1, res.cka.shape[0])]
    labels_b = ["embeddings"] + [f"B layer {j}" for j in range(1, res.cka.shape[1])]
    csv = export_file("cka.csv", pd.DataFrame(res.cka.round(4), index=labels_a, columns=labels_b).to_csv())
    same = [f"{res.cka[i, i]:.2f}" for i in range(min(res.cka.shape))]
    info = (f"A = `{res.model_a}`, B = `{res.model_b}`, {res.n_words} words. CKA of the same layer, embeddings up: "
            f"{' · '.join(same)} (1 = the same representation up to rotation and scale).")
    if res.diff_kind:
        changed = sum(not r["same"] for r in res.diff)
        info += f" Predictions ({res.diff_kind}): {changed} of {len(res.diff)} rows differ."
    diff = pd.DataFrame(res.diff) if res.diff else pd.DataFrame(columns=["A", "B", "same"])
    fig = _cka_plot(res)
    return notices_markdown(res.notices, info), fig, diff, [csv, *figure_files(fig, "cka")]


def build() -> None:
    with gr.Tab("Compare models"):
        gr.Markdown("Two models on the same sentences (one per line): how alike their layers are, by linear CKA "
                    "(Kornblith et al., 2019) over each word's first sub-token, and where their predictions differ "
                    "(fill-mask: the first line's [MASK]; tagging: every word). Try the general vs the movie-review "
                    "masked LM, or the NER vs the POS tagger (same encoder, fine-tuned apart).")
        with gr.Row():
            m_text = gr.Textbox(label="Sentences (one per line)", lines=6, value=compare.DEFAULT_SENTENCES, scale=3)
            with gr.Column(scale=1):
                m_a = gr.Dropdown(model_choices("compare"), value=registry.choice(fill_mask.TASK, "embedded-general"), label="Model A")
                m_b = gr.Dropdown(model_choices("compare"), value=registry.choice(fill_mask.TASK, "embedded-movies"), label="Model B")
                m_btn = gr.Button("Compare", variant="primary")
        m_notes = gr.Markdown(label="Notes")
        with gr.Row():
            m_plot = gr.Plot(label="Layer-by-layer similarity (linear CKA)")
            m_diff = gr.Dataframe(label="Prediction diff", interactive=False, max_height=420)
        m_csv = gr.File(label="Downloads: CKA matrix (CSV), plot (PNG, SVG)", file_count="multiple")
        clear_on_failure(m_btn.click(show_comparison, [m_text, m_a, m_b], [m_notes, m_plot, m_diff, m_csv],
                                     api_name="inside_compare", api_description="Linear CKA between every layer of "
                                     "two models on the same sentences, and a diff of their predictions."),
                         [m_plot, m_diff, m_csv], m_notes)
