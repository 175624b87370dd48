"""Look inside: Corpus search by token context (exBERT)."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from models.inside import corpus_search, model_choices
from tabs.common import clear_on_failure, export_file, run_model


# ---------- corpus search ----------

def show_corpus_search(text: str, model: str, query: int, layer: int, k: int):
    res = run_model(corpus_search.search, text, model, int(query), int(layer), int(k))
    table = pd.DataFrame([{"similarity": n.similarity, "token": n.token, "context": n.context,
                           "model predicts there": n.predicted if n.predicted is not None else "",
                           "source": n.source} for n in res.neighbours])
    info = (f"`{res.model}`, layer {res.layer} ({'embeddings' if res.layer == 0 else 'block ' + str(res.layer)}): "
            f"nearest of {res.corpus_tokens:,} corpus tokens to '{res.tokens[res.query]}' (cosine; the index of "
            f"this model took {res.index_seconds:.1f} s to build, once). Tokens by position: "
            + ", ".join(f"{i} {t}" for i, t in enumerate(res.tokens)))
    return info, table, export_file("corpus-search.csv", table.to_csv(index=False))


def build() -> None:
    with gr.Tab("Corpus search"):
        gr.Markdown("Pick a token of your sentence and a layer: the corpus token contexts whose hidden states are "
                    "nearest (cosine), with their neighbouring words and what the model predicts there (masked "
                    "LMs). Corpus: the built-in samples (movie snippets, news, web text; about 10k tokens). Low "
                    "layers match the same word; higher layers match the same role (a river *bank* finds *river*, "
                    "*street*, *area*).")
        with gr.Row():
            c_text2 = gr.Textbox(label="Sentence", value="We sat on the river bank.", scale=3)
            c_model2 = gr.Dropdown(model_choices("corpus-search"), value=model_choices("corpus-search")[0], label="Model", scale=1)
        with gr.Row():
            c_query = gr.Number(value=6, precision=0, label="Token (position; 0 = [CLS])")
            c_layer = gr.Slider(0, 24, value=3, step=1, label="Layer (0 = embeddings)")
            c_k = gr.Slider(1, corpus_search.MAX_K, value=10, step=1, label="Neighbours")
            c_btn2 = gr.Button("Search the corpus", variant="primary")
        c_notes2 = gr.Markdown(label="Notes")
        c_table = gr.Dataframe(label="Nearest token contexts", interactive=False, max_height=420)
        c_csv = gr.File(label="Download (CSV)")
        clear_on_failure(c_btn2.click(show_corpus_search, [c_text2, c_model2, c_query, c_layer, c_k],
                                      [c_notes2, c_table, c_csv], api_name="inside_corpus_search",
                                      api_description="Nearest corpus token contexts to one token of `text`."),
                         [c_table, c_csv], c_notes2)
