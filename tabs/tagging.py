"""Sequence tagging tab: named entities and parts of speech, word by word."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from models import loading, registry, tagging
from tabs import plots
from tabs.common import BATCHED, clear_on_failure, notices_markdown, run_model

TITLE = "Tagging (NER / POS)"

INTRO = """
### Token classification: one label per word
The tokenizer cuts words into sub-words; the model labels every sub-word; a word's label comes
from its sub-words by the **aggregation** you choose (*first*: the first sub-word, as the taggers
were trained; *average*: the mean of their probabilities; *max*: the most confident sub-word).
For NER, B-/I- labels are joined into entity spans. The embedded taggers (offline) are MiniLM-L6
with small adapters trained on CoNLL-2003 (NER: PER, ORG, LOC, MISC) and UD English EWT (17
universal POS tags). **Chinese named entities** use the mini ChineseBERT (glyph + pinyin, offline) fine-tuned
on Weibo NER: one label per character; PER / ORG / LOC / GPE, each as a name (`.NAM`, 张伟) or a nominal
mention (`.NOM`, 老师).
"""

# the radio's choices -> the offline tagger of that label set and language (embedded-ner, embedded-upos, zh-weibo)
TASK_MODELS = {"Named entities": registry.default(tagging.TASK, registry.Labels.NER, "en"),
               "Parts of speech": registry.default(tagging.TASK, registry.Labels.UPOS, "en"),
               "Chinese named entities": registry.default(tagging.TASK, registry.Labels.NER, "zh")}
EXAMPLES = [
    ["Angela Merkel met Emmanuel Macron in Paris to discuss the future of the European Union.", "Named entities"],
    ["Apple is looking at buying a U.K. startup for $1 billion, according to Bloomberg News.", "Named entities"],
    ["The quick brown fox jumps over the lazy dog because it wants to eat.", "Parts of speech"],
    ["I can't believe she's already finished reading all three books!", "Parts of speech"],
    ["我在北京的清华大学读书，我的老师是张伟。", "Chinese named entities"],
]


def tag(text: str, task: str, model_name: str, aggregation: str, progress=gr.Progress()):
    """Tag `text`. Returns (notes, highlighted entities/words, word table, raw JSON)."""
    model_name = model_name or TASK_MODELS.get(task, tagging.DEFAULT_MODEL)
    if not loading.is_loaded(tagging.TASK, model_name):
        progress(0.05, desc=f"Loading {model_name} (first use only)…")
    r = run_model(tagging.predict, text, model_name, aggregation, progress=lambda f, d: progress(f, desc=d))
    table = pd.DataFrame([{"word": w.word, "label": w.label, "confidence": w.score, "chars": f"{w.start}-{w.end}"}
                          for w in r.words])
    info = f"Model `{r.model}` · {len(r.words)} words · {len(r.entities)} entities · {r.seconds * 1000:.0f} ms"
    return (notices_markdown(r.notices, info), {"text": r.text, "entities": r.highlighted()}, table, r.to_dict())


def build() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text", lines=4, value=EXAMPLES[0][0], max_length=100_000)
        with gr.Column(scale=2):
            task = gr.Radio(list(TASK_MODELS), value="Named entities", label="Task")
            model = gr.Dropdown(registry.dropdown(tagging.TASK),
                                value="embedded-ner", label="Model")
            aggregation = gr.Radio(list(tagging.AGGREGATIONS), value="first", label="Sub-word aggregation")
    run = gr.Button("Tag", variant="primary")
    notes = gr.Markdown(label="Notes")
    highlighted = gr.HighlightedText(label="Labels in the text", show_legend=True, combine_adjacent=False,
                                     elem_id="tagging-highlighted")
    table = gr.Dataframe(label="Words, labels and confidence", interactive=False,
                         headers=["word", "label", "confidence", "chars"])
    with gr.Accordion("Which layer knows most? (layer-selection probes)", open=False):
        gr.Markdown("A linear tagger trained on frozen features of each layer of the MiniLM encoder, and on a "
                    "learned softmax-weighted mix of all layers (see the README's table).")
        # drawn once at build time: a callable value would add a public no-input "/layer_plot" endpoint
        gr.Plot(value=plots.layer_probe_plot(), label="Dev accuracy / F1 per layer")
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON(label="Raw result")
    gr.Examples(EXAMPLES, inputs=[text, task])
    task.change(lambda t: TASK_MODELS[t], task, model, api_visibility="private")
    event = run.click(tag, [text, task, model, aggregation], [notes, highlighted, table, raw], api_name="tag",
                      **BATCHED,
                      api_description="Label every word of `text` (NER or UPOS) with the chosen model and aggregation.")
    clear_on_failure(event, [highlighted, table, raw], notes)
