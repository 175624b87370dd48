"""Fill-mask tab: what does a masked language model predict where a word is hidden?"""
from __future__ import annotations

import gradio as gr
import pandas as pd

from models import fill_mask, loading, registry
from tabs.common import BATCHED, clear_on_failure, notices_markdown, run_model

TITLE = "Fill-mask"

INTRO = """
### What does a masked language model predict?
BERT-style models are pre-trained by hiding ~15% of the words and guessing them back.
Write a sentence with **`[MASK]`** (or **`<mask>`**: both work with every model) where a word is
missing; the model gives a probability to every word of its vocabulary at each mask.
Up to 10 masks; each mask is predicted independently.
The three **embedded** models run offline: the MiniLM-L6 encoder with a small MLM adapter we trained on
Wikipedia/web/news text, the same adapter trained further on IMDB reviews (compare them on
*This is a great [MASK].* to see domain adaptation), and a BERT-tiny (2 layers, 4.4 M parameters) whose
pre-trained MLM head we retrained on Wikipedia text: **Compare** shows a 22 M encoder with a learned
head beside a small model pre-trained for the task. Hub models need network access.
"""

EXAMPLES = [
    ["Paris is the [MASK] of France.", "embedded-general", 5],
    ["This is a great [MASK].", "embedded-general", 5],
    ["This is a great [MASK].", "embedded-movies", 5],
    ["The doctor prescribed a new [MASK] for her headaches.", "embedded-general", 5],
    ["He drank a cup of [MASK] and ate a piece of [MASK].", "embedded-general", 5],
    ["The acting was terrible and the plot made no <mask>.", "embedded-movies", 5],
    ["He is taller [MASK] his brother.", "embedded-tiny", 5],
]


def predict(text: str, model_name: str, top_k: float, progress=gr.Progress()):
    """Top-k words at each mask. Returns (notes, filled text, top-k of the first mask, table, raw JSON)."""
    if not loading.is_loaded(fill_mask.TASK, model_name):
        progress(0.1, desc=f"Loading {model_name} (first use only)…")
    result = run_model(fill_mask.predict, text, model_name, int(top_k))
    rows = [{"mask": p.index + 1, "rank": r + 1, "word": c.token, "probability": round(c.score, 4)}
            for p in result.predictions for r, c in enumerate(p.candidates)]
    first = {c.token: c.score for c in result.predictions[0].candidates}
    load_s = loading.MODEL_CACHE.load_seconds.get(("fill-mask", model_name))
    info = f"Model `{result.model}` · {result.seconds * 1000:.0f} ms" + (f" · loaded in {load_s:.1f} s" if load_s else "")
    return notices_markdown(result.notices, info), result.filled, first, pd.DataFrame(rows), result.to_dict()


def compare(text: str, top_k: float, progress=gr.Progress()):
    """The first mask's top-k for every embedded model side by side (domain shift at a glance)."""
    names = registry.names(fill_mask.TASK, registry.Source.EMBEDDED)
    columns = {}
    for i, name in enumerate(names):
        progress(i / len(names), desc=f"Running {name}…")
        result = run_model(fill_mask.predict, text, name, int(top_k))
        columns[name] = [f"{c.token} ({c.score:.2f})" for c in result.predictions[0].candidates]
    return pd.DataFrame(columns)


def build() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text with [MASK]", lines=3, value=EXAMPLES[0][0], max_length=100_000)
        with gr.Column(scale=2):
            model = gr.Dropdown(registry.dropdown(fill_mask.TASK), value=fill_mask.DEFAULT_MODEL, label="Model")
            top_k = gr.Slider(1, fill_mask.MAX_TOP_K, value=5, step=1, label="Top-k words per mask")
    with gr.Row():
        run = gr.Button("Predict", variant="primary")
        cmp_btn = gr.Button("Compare embedded models (first mask)")
    notes = gr.Markdown(label="Notes")
    filled = gr.Textbox(label="Filled with each mask's top-1 word", interactive=False)
    with gr.Row():
        label = gr.Label(label="First mask: top-k probabilities", elem_id="fill-mask-first")
        table = gr.Dataframe(label="Every mask: top-k words", interactive=False, elem_id="fill-mask-table",
                             headers=["mask", "rank", "word", "probability"])
    comparison = gr.Dataframe(label="Embedded models compared (first mask)", interactive=False,
                              headers=registry.names(fill_mask.TASK, registry.Source.EMBEDDED))
    with gr.Accordion("Raw result (JSON, as the API returns it)", open=False):
        raw = gr.JSON(label="Raw result")
    gr.Examples(EXAMPLES, inputs=[text, model, top_k])

    outputs = [notes, filled, label, table, raw]
    for event in (run.click(predict, [text, model, top_k], outputs, api_name="fill_mask", **BATCHED,
                            api_description="Top-k words at each [MASK]/<mask> of `text` with masked LM `model`."),
                  text.submit(predict, [text, model, top_k], outputs, api_visibility="private", **BATCHED)):
        clear_on_failure(event, outputs, notes)
    clear_on_failure(cmp_btn.click(compare, [text, top_k], [comparison], api_name="fill_mask_compare",
                                   api_description="First mask's top-k for every embedded model side by side."),
                     [comparison])
