"""Look inside: Two Captum attribution methods side by side, for sentiment, X-rather-than-Y, an entity, a QA answer."""
from __future__ import annotations


import gradio as gr
import numpy as np
import pandas as pd

from models import fill_mask, prompt_cls, qa
from models.inside import attribution, captum_views
from tabs.common import clear_on_failure, run_model, table_files
from tabs.inside.shared import SENTIMENT, names_for


# ---------- two attribution methods side by side (Captum) ----------

def _agreement(a: attribution.Attribution, b: attribution.Attribution) -> str:
    """How far two methods agree: the sign of each word, and the rank correlation of the scores."""
    x = np.array([s for _, s in a.spans if s is not None])
    y = np.array([s for _, s in b.spans if s is not None])
    if len(x) != len(y) or len(x) < 2:
        return ""
    same_sign = int((np.sign(x) == np.sign(y)).sum())
    rx, ry = x.argsort().argsort(), y.argsort().argsort()
    rho = float(np.corrcoef(rx, ry)[0, 1]) if rx.std() and ry.std() else float("nan")
    return f"They agree on the sign of {same_sign} of {len(x)} words; rank correlation {rho:+.2f}."


def _pair(explain, method_a: str, method_b: str, *args, **kwargs):
    results = [run_model(explain, *args, method=m, **kwargs) for m in (method_a, method_b)]
    first = results[0]
    lines = [f"Explained: {first.explained}; prediction **{first.attribution.target}** "
             f"({first.attribution.target_score})."]
    for r in results:
        if r.delta is not None:
            lines.append(f"{r.method}: convergence delta {r.delta:.4f} (near 0: the scores add up to the change "
                         f"of the explained score from the [PAD] baseline).")
    lines.append(_agreement(results[0].attribution, results[1].attribution))
    a, b = (r.attribution.spans for r in results)
    scores = pd.DataFrame({"word": [w for w, s in a if s is not None],
                           **{f"{side}: {r.method}": [s for _, s in r.attribution.spans if s is not None]
                              for side, r in zip("AB", results)}})
    return (" ".join(x for x in lines if x), a, b, table_files(scores, "attribution"))


def explain_two_classification(text: str, model: str, method_a: str, method_b: str):
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[SENTIMENT])
    return _pair(captum_views.explain_classification, method_a, method_b, text, spec, model=model)


def explain_two_contrast(text: str, word_x: str, word_y: str, model: str, method_a: str, method_b: str):
    return _pair(captum_views.explain_contrast, method_a, method_b, text, word_x, word_y, model=model)


def explain_two_entity(text: str, entity: int, model: str, method_a: str, method_b: str):
    return _pair(captum_views.explain_entity, method_a, method_b, text, int(entity), model=model)


def explain_two_qa(question: str, context: str, side: str, model: str, method_a: str, method_b: str):
    return _pair(captum_views.explain_qa, method_a, method_b, question, context, side, model=model)


def _method_pickers(second: str):
    methods = list(captum_views.METHODS)
    return (gr.Dropdown(methods, value=methods[0], label="Method A"),
            gr.Dropdown(methods, value=second, label="Method B"))


def _two_method_outputs():
    notes = gr.Markdown(label="Notes")
    with gr.Row():
        out_a = gr.HighlightedText(label="Method A", show_legend=False)
        out_b = gr.HighlightedText(label="Method B", show_legend=False)
    files = gr.File(label="Downloads: the scores of both methods (CSV, JSON)", file_count="multiple")
    return notes, out_a, out_b, files


def _wire_two_methods(button, fn, inputs: list, outputs: tuple, api_name: str) -> None:
    notes, *shown = outputs
    clear_on_failure(button.click(fn, inputs, [notes, *shown], api_name=api_name), shown, notes)


def build() -> None:
    with gr.Tab("Attribution"):
        gr.Markdown("Which words a prediction rests on, explained by two attribution methods of "
                    "[Captum](https://captum.ai) (Integrated Gradients on the embedding layer, LIME, occlusion), side "
                    "by side: they often disagree. Red supports the explained score, blue works against it (each "
                    "method scaled to [-1, 1]). Every method replaces words with [PAD]; template words stay.")
        lime, occlusion = captum_views.METHODS[1], captum_views.METHODS[2]
        with gr.Accordion("Sentiment (the prompt tab's cloze classifier)", open=True):
            with gr.Row():
                t_text = gr.Textbox(label="Review", lines=2, value="A gorgeous, witty film, though the ending drags.",
                                    scale=3)
                t_model = gr.Dropdown(names_for("explain-classification"), value=fill_mask.DEFAULT_MODEL, label="Masked LM")
                t_a, t_b = _method_pickers(lime)
            t_btn = gr.Button("Explain with both", variant="primary")
            t_outs = _two_method_outputs()
        with gr.Accordion("Fill-mask: why X rather than Y", open=True):
            with gr.Row():
                x_text = gr.Textbox(label="Text with [MASK]", value="The movie was [MASK], I loved every minute.",
                                    scale=3)
                x_x = gr.Textbox(label="X", value="great")
                x_y = gr.Textbox(label="Y", value="terrible")
                x_model = gr.Dropdown(names_for("explain-contrast"), value=fill_mask.DEFAULT_MODEL, label="Masked LM")
            with gr.Row():
                x_a, x_b = _method_pickers(occlusion)
                x_btn = gr.Button("Why X rather than Y?", variant="primary")
            x_outs = _two_method_outputs()
        with gr.Accordion("Question answering: the answer's start and end, separately", open=False):
            with gr.Row():
                s_q = gr.Textbox(label="Question", value="Where did the cat sleep?")
                s_c = gr.Textbox(label="Context", lines=2, scale=2,
                                 value="The cat was tired after the long day, so it slept on the warm mat by the door.")
            with gr.Row():
                s_side = gr.Radio(["start", "end"], value="start", label="Explain the answer's")
                s_model = gr.Dropdown(names_for("explain-qa"), value=qa.DEFAULT_MODEL, label="QA model")
                s_a, s_b = _method_pickers(occlusion)
                s_btn = gr.Button("Explain the answer", variant="primary")
            s_outs = _two_method_outputs()
        with gr.Accordion("Named entities (the tagging tab): one entity at a time", open=False):
            with gr.Row():
                e_text = gr.Textbox(label="Text", value="Angela Merkel met Emmanuel Macron in Berlin on Tuesday.", scale=3)
                e_num = gr.Number(value=2, precision=0, label="Entity (1 = the first found)")
                e_model = gr.Dropdown(names_for("explain-entity"), value="embedded-ner", label="Tagger")
            with gr.Row():
                e_a, e_b = _method_pickers(occlusion)
                e_btn = gr.Button("Explain the entity", variant="primary")
            e_outs = _two_method_outputs()
        _wire_two_methods(e_btn, explain_two_entity, [e_text, e_num, e_model, e_a, e_b], e_outs, "inside_two_methods_entity")
        _wire_two_methods(t_btn, explain_two_classification, [t_text, t_model, t_a, t_b], t_outs,
                          "inside_two_methods_classification")
        _wire_two_methods(x_btn, explain_two_contrast, [x_text, x_x, x_y, x_model, x_a, x_b], x_outs,
                          "inside_two_methods_contrast")
        _wire_two_methods(s_btn, explain_two_qa, [s_q, s_c, s_side, s_model, s_a, s_b], s_outs, "inside_two_methods_qa")
