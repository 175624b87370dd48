"""Look inside: Attention (head and model views), BertViz's neuron view, and layer-wise predictions (logit lens)."""
from __future__ import annotations

import html
import json

import gradio as gr
import numpy as np
import pandas as pd

from models import fill_mask
from models.inside import attention, logit_lens, model_choices, neurons
from tabs import plots
from tabs.common import clear_on_failure, export_file, figure_files, notices_markdown, run_model, table_files
from tabs.inside.shared import VIEW_TEMPLATE, names_for
import matplotlib.pyplot as plt  # noqa: E402 (after shared sets the backend)


# ---------- attention ----------

def attention_html(res: attention.AttentionResult) -> str:
    """The self-contained view in a sandboxed iframe. The data is JSON with <, > and & escaped, so no
    token can close the script tag; the whole page is then attribute-escaped into srcdoc."""
    payload = {"model": res.model, "tokens": res.tokens, "notices": res.notices, "layers": res.attentions.shape[0],
               "heads": res.attentions.shape[1], "scale": 1000,  # weights as integer thousandths: a smaller page
               "attention": (res.attentions * 1000).round().astype(int).tolist()}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = VIEW_TEMPLATE.read_text(encoding="utf-8").replace("/*DATA*/", data)
    # tall enough for the head view (22 px per token) or the model view (80 px per layer), no taller
    height = min(3000, max(70 + 22 * len(res.tokens), 60 + 80 * res.attentions.shape[0]))
    return (f'<iframe title="attention view" sandbox="allow-scripts allow-downloads" style="width:100%;'
            f'height:{height}px;border:1px solid #ddd" srcdoc="{html.escape(page, quote=True)}"></iframe>')


def show_attention(text: str, model: str):
    res = run_model(attention.attention, text, model)
    path = export_file("attention.json", json.dumps(res.to_dict()))
    shape = res.attentions.shape
    info = f"`{res.model}` · {shape[0]} layers × {shape[1]} heads · {len(res.tokens)} tokens"
    return notices_markdown(res.notices, info), attention_html(res), path


# ---------- neuron view ----------

def _neuron_plot(v: neurons.NeuronView):
    n, d = v.k.shape
    lim_k = float(np.abs(v.k).max()) or 1.0
    lim_p = float(np.abs(v.product).max()) or 1.0
    height = 1.6 + 0.28 * n
    fig = plt.figure(figsize=(11, height))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, max(2, n)], width_ratios=[d, d, 14], hspace=0.08, wspace=0.08,
                            left=0.12, right=0.98, top=1 - 0.45 / height, bottom=0.6 / height)
    axq = fig.add_subplot(grid[0, 1])
    axq.imshow(v.q[None, :], cmap="coolwarm", vmin=-lim_k, vmax=lim_k, aspect="auto")
    axq.set_yticks([0], [f"q: {v.tokens[v.query]}"])
    axq.set_xticks([])
    axq.set_title(f"query '{v.tokens[v.query]}' (position {v.query}), layer {v.layer + 1}, head {v.head + 1}", fontsize=9)
    axk = fig.add_subplot(grid[1, 0])
    axk.imshow(v.k, cmap="coolwarm", vmin=-lim_k, vmax=lim_k, aspect="auto")
    axk.set_yticks(range(n), v.tokens, fontsize=8)
    axk.set_xlabel("key k (per dimension)")
    axp = fig.add_subplot(grid[1, 1], sharey=axk)
    axp.imshow(v.product, cmap="coolwarm", vmin=-lim_p, vmax=lim_p, aspect="auto")
    axp.set_xlabel("q × k (element-wise; the sum is q·k)")
    axp.tick_params(labelleft=False)
    axw = fig.add_subplot(grid[1, 2], sharey=axk)
    axw.barh(range(n), v.weights, color="#d9534f")
    for i, (sc, w) in enumerate(zip(v.scores, v.weights)):
        axw.text(w + 0.03, i, f"{sc:+.1f} → {w:.2f}", va="center", fontsize=7)
    axw.set_xlim(0, 1.6)
    axw.set_xticks([0, 0.5, 1])
    axw.set_xlabel("score q·k/√d → attention")
    axw.tick_params(labelleft=False)
    plt.close(fig)
    return fig


def show_neurons(text: str, model: str, layer: int, head: int, query: int):
    v = run_model(neurons.neuron_view, text, model, int(layer) - 1, int(head) - 1, int(query))
    top = int(v.weights.argmax())
    info = (f"`{v.model}`: the token '{v.tokens[v.query]}' attends most to '{v.tokens[top]}' ({v.weights[top]:.2f}). "
            f"Tokens by position: " + ", ".join(f"{i} {t}" for i, t in enumerate(v.tokens)))
    table = pd.DataFrame({"position": range(len(v.tokens)), "key token": v.tokens,  # float64: no float32 noise shown
                          "q·k": v.product.sum(-1).astype(float).round(3),
                          "score q·k/√d": v.scores.astype(float).round(3), "attention": v.weights.astype(float).round(4)})
    fig = _neuron_plot(v)
    return notices_markdown(v.notices, info), fig, table, figure_files(fig, "neuron-view")


# ---------- logit lens ----------

def show_logit_lens(text: str, model: str):
    res, rows = run_model(logit_lens.logit_lens, text, model)
    table = pd.DataFrame([{"mask": r.mask + 1, "layer": "embeddings" if r.layer == 0 else r.layer,
                           **{f"#{k + 1}": f"{t} ({s:.3f})" for k, (t, s) in enumerate(zip(r.tokens, r.scores))}}
                          for r in rows])
    final = {m: next(r.tokens[0] for r in rows if r.mask == m and r.layer == rows[-1].layer)
             for m in range(len(res.mask_positions))}
    curve = pd.DataFrame([{"layer": r.layer, "mask": f"mask {r.mask + 1}: '{final[r.mask]}'",
                           "probability": r.final_prob} for r in rows])
    files = table_files(table, "logit-lens") + figure_files(
        plots.line_figure(curve, "layer", "probability", "mask", "Probability of the final answer per layer"), "logit-lens")
    return (notices_markdown(res.notices, f"Last layer = the fill-mask tab's answer: **{res.filled}**"), table, curve,
            files)


def build() -> None:
    models = model_choices("attention")
    with gr.Tab("Attention"):
        with gr.Row():
            a_text = gr.Textbox(label="Text (for QA models: question [SEP] context)", lines=2, scale=3,
                                value="The cat sat on the mat because it was tired.")
            a_model = gr.Dropdown(models, value=models[0], label="Model", scale=1)
        a_btn = gr.Button("Show attention", variant="primary")
        a_notes = gr.Markdown(label="Notes")
        a_view = gr.HTML(label="Attention view")
        a_json = gr.File(label="Raw attention (JSON: tokens, layers x heads x rows x columns)")
        clear_on_failure(a_btn.click(show_attention, [a_text, a_model], [a_notes, a_view, a_json],
                                     api_name="inside_attention", api_description="Attention of every layer and head "
                                     "for `text`, as an HTML view and a JSON file."), [a_view, a_json], a_notes)
    with gr.Tab("Neurons"):
        gr.Markdown("BertViz's neuron view: pick a layer, a head and a query token; see its query vector q, every "
                    "token's key vector k, their element-wise product (which sums to q·k) and the softmax of the "
                    "scaled scores, which is that head's attention row.")
        with gr.Row():
            n_text = gr.Textbox(label="Text", lines=2, scale=3, value="The cat sat on the mat because it was tired.")
            n_model = gr.Dropdown(model_choices("neurons"), value=model_choices("neurons")[0], label="Model", scale=1)
        with gr.Row():
            n_layer = gr.Slider(1, 24, value=3, step=1, label="Layer")
            n_head = gr.Slider(1, 16, value=4, step=1, label="Head")
            n_query = gr.Number(value=8, precision=0, label="Query token (position; 0 = [CLS])")
            n_btn = gr.Button("Show neurons", variant="primary")
        n_notes = gr.Markdown(label="Notes")
        n_plot = gr.Plot(label="Query, keys, products and attention")
        n_table = gr.Dataframe(label="Scores per key", interactive=False, max_height=300)
        n_files = gr.File(label="Downloads: figure (PNG, SVG)", file_count="multiple")
        clear_on_failure(n_btn.click(show_neurons, [n_text, n_model, n_layer, n_head, n_query],
                                     [n_notes, n_plot, n_table, n_files], api_name="inside_neurons",
                                     api_description="BertViz's neuron view for one layer, head and query token."),
                         [n_plot, n_table, n_files], n_notes)
    with gr.Tab("Layer-wise predictions"):
        with gr.Row():
            l_text = gr.Textbox(label="Text with [MASK]", value="Paris is the [MASK] of France.", scale=3)
            l_model = gr.Dropdown(names_for("logit-lens"), value=fill_mask.DEFAULT_MODEL, label="Masked LM", scale=1)
        l_btn = gr.Button("Read every layer", variant="primary")
        l_notes = gr.Markdown(label="Notes")
        l_curve = gr.LinePlot(x="layer", y="probability", color="mask",
                              label="Probability of the final answer, read off each layer (0 = embeddings)")
        l_table = gr.Dataframe(label="Top predictions per layer", interactive=False)
        l_files = gr.File(label="Downloads: table (CSV, JSON), curve (PNG, SVG)", file_count="multiple")
        with gr.Accordion("Tagging: which layer knows most (layer-selection probes)", open=False):
            gr.Plot(value=plots.layer_probe_plot(), label="Dev accuracy / F1 per layer")
        clear_on_failure(l_btn.click(show_logit_lens, [l_text, l_model], [l_notes, l_table, l_curve, l_files],
                                     api_name="inside_logit_lens"), [l_table, l_curve, l_files], l_notes)
