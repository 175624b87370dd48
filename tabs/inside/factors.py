"""Look inside: Transformer factors (Yun et al., 2021): sparse dictionary codes of every layer."""
from __future__ import annotations


import gradio as gr
import numpy as np
import pandas as pd

from models.inside import factors
from tabs import plots
from tabs.common import clear_on_failure, figure_files, run_model, table_files


# ---------- transformer factors ----------

def show_token_factors(text: str, layer: int):
    res = run_model(factors.token_factors, text, int(layer))
    table = pd.DataFrame([{"position": i, "token": t, **{f"factor {r + 1}": f"#{fi} ({a:.2f})" for r, (fi, a) in
                                                          enumerate(top)}} for i, (t, top) in enumerate(zip(res.tokens, res.top))]).fillna("")
    meta = factors.factors().meta
    first = next((top[0][0] for t, top in zip(res.tokens, res.top) if top and t not in ("[CLS]", "[SEP]")), 0)
    info = (f"`{res.model}`, layer {res.layer}: the strongest of {meta['factors']} factors per token (sparse codes; "
            f"about {meta['active_per_token'][res.layer]:.0f} are active per token at this layer). Pick a factor "
            f"number below to see what it stands for.")
    return info, table, first, table_files(table, f"factors-layer-{int(layer)}")


def show_factor(factor: int):
    d = run_model(factors.factor_detail, int(factor))
    curve = pd.DataFrame({"layer": list(range(len(d.importance))), "importance": d.importance})
    peak = int(np.argmax(d.importance))
    contexts = pd.DataFrame(d.contexts)
    info = (f"Factor #{d.factor}: most important at layer {peak} ({'embeddings' if peak == 0 else 'block ' + str(peak)}); "
            f"its top-activating contexts in the built-in corpus at each layer below (the token in [[ ]]).")
    files = (figure_files(plots.line_figure(curve, "layer", "importance", title=f"Factor #{d.factor}"),
                          f"factor-{d.factor}") + table_files(contexts, f"factor-{d.factor}-contexts"))
    return info, curve, contexts, files


def build() -> None:
    with gr.Tab("Transformer factors"):
        gr.Markdown("Yun et al. (2021): a contextual embedding is a sparse sum of *transformer factors*, learned by "
                    "dictionary learning over the hidden states of every layer (one dictionary for all layers of "
                    "`embedded-general`, built by `recipes/build_transformer_factors.py`). Low-layer factors tend to "
                    "stand for words, higher ones for patterns and meanings; a factor's importance by layer shows "
                    "where it lives.")
        with gr.Row():
            f_text = gr.Textbox(label="Sentence", value="The bank raised its interest rates after the river flooded.",
                                scale=3)
            f_layer = gr.Slider(0, 6, value=4, step=1, label="Layer (0 = embeddings)")
            f_btn = gr.Button("Factors of each token", variant="primary")
        f_notes = gr.Markdown(label="Notes")
        f_table = gr.Dataframe(label="Strongest factors per token (factor number and activation)", interactive=False,
                               max_height=320)
        f_files = gr.File(label="Downloads: factors per token (CSV, JSON)", file_count="multiple")
        with gr.Row():
            f_factor = gr.Number(value=0, precision=0, label="Factor number")
            f_show = gr.Button("Show factor")
        f_info = gr.Markdown(label="Factor")
        with gr.Row():
            f_curve = gr.LinePlot(x="layer", y="importance", label="Importance by layer (mean activation)")
            f_ctx = gr.Dataframe(label="Top-activating contexts per layer", interactive=False, max_height=360)
        f_files2 = gr.File(label="Downloads: importance (PNG, SVG), contexts (CSV, JSON)", file_count="multiple")
        clear_on_failure(f_btn.click(show_token_factors, [f_text, f_layer], [f_notes, f_table, f_factor, f_files],
                                     api_name="inside_factors"), [f_table, f_files], f_notes)
        clear_on_failure(f_show.click(show_factor, [f_factor], [f_info, f_curve, f_ctx, f_files2],
                                      api_name="inside_factor"), [f_curve, f_ctx, f_files2], f_info)
