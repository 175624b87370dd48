"""Prompt classification tab: turn a masked LM into a zero-/few-shot classifier with a cloze template."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from models import fill_mask, prompt_cls, registry, sentence_embedding
from models.loading import hub_reachable
from tabs.common import BATCHED, clear_on_failure, notices_markdown, run_model

TITLE = "Prompt classification"

INTRO = """
### The prompt trick: classification as fill-in-the-blank
Put the input in a **template** with a `{mask}` slot, give each label one or more **words**, and
read the masked LM's probability of those words at the mask: a classifier with no training
(*zero-shot*). **Calibration** divides by the scores on the content-free input "N/A", removing the
model's bias towards some words. With a few labelled **examples** you can add them to the context as
*demonstrations* (LM-BFF) or *fine-tune* the model's bias and LayerNorm terms on them (a private copy,
for your session only). Compare backends: **cloze** (masked LM), **causal-lm** (SmolLM2-135M, offline:
probability of the whole prompt with each word in the blank), **embedding** (no prompt at all: the
sentence encoder's similarity to each label's description, e.g. "It was great."; with examples, SetFit),
**nli** (bart-large-mnli, Hub only), **ensemble** (the mean of embedding and cloze: the two err on
different inputs, so together they do better than either; the notes show each one's vote) and
**supervised** (no prompt: the same MiniLM fully fine-tuned on 61 k SST-2 training rows by the Fine-tuning
lab's recipe; sentiment labels only), the reference that shows how far prompting is from full supervision.
"""

DEFAULT_PRESET = prompt_cls.SST2_PRESET
EXAMPLES = [  # text, preset, backend
    ["a gorgeous, witty, seductive movie.", DEFAULT_PRESET, "cloze"],
    ["the plot is nothing but boilerplate clichés from start to finish.", DEFAULT_PRESET, "cloze"],
    ["Terrible, boring, a waste of time.", prompt_cls.SUMMARY_PRESET, "ensemble"],
    # supervised: negative (98 %); the cloze and ensemble backends call it positive (52-53 %: "funny")
    ["It never once made me laugh, though it tries very hard to be funny.", DEFAULT_PRESET, "supervised"],
    # causal-lm: the embedding backend called this review positive (54 %) uncalibrated
    ["The battery died after two days and support never answered my emails.", "Review sentiment", "causal-lm"],
    ["The striker scored twice as United beat Chelsea 3-1 in the cup final.", "Topic (World / Sports / Business / Tech)",
     "cloze"],
    ["Shares of the chipmaker fell 8% after it cut its revenue forecast for the year.",
     "Topic (World / Sports / Business / Tech)", "embedding"],
]
# measured with `python -m models.eval sst2 ... --mode demos` (README): at this model size demonstrations hurt
DEMOS_INFO = ("At this model size they hurt: on 300 held-out SST-2 reviews, zero-shot 66.3 % vs 55.9 % with "
              "similar demonstrations (57.2 % random; 16 per label, 3 seeds). Tick it to see the effect.")
FEW_SHOT_DEFAULT = pd.DataFrame([
    {"text": "an utterly charming and hilarious film", "label": "positive"},
    {"text": "a tedious, overlong mess", "label": "negative"},
    {"text": "one of the best performances of the year", "label": "positive"},
    {"text": "the jokes fall flat and the story goes nowhere", "label": "negative"},
])


def _verbalizer_table(preset: str) -> pd.DataFrame:
    template, verb = prompt_cls.PRESETS[preset]
    return pd.DataFrame([{"label": l, "words": ", ".join(ws)} for l, ws in verb.items()])


def preset_model(preset: str) -> str:
    return prompt_cls.PRESET_MODELS.get(preset, fill_mask.DEFAULT_MODEL)


def load_preset(preset: str):
    return prompt_cls.PRESETS[preset][0], _verbalizer_table(preset), preset_model(preset)


def _rows(df) -> list[list]:
    if df is None:
        return []
    if isinstance(df, pd.DataFrame):
        return df.fillna("").values.tolist()
    return [list(r) for r in df.get("data", [])] if isinstance(df, dict) else list(df)


def _spec(template, verbalizer):
    return prompt_cls.make_spec(template, [r[:2] for r in _rows(verbalizer) if len(r) >= 2])


def classify(text, template, verbalizer, backend, model_name, calibrate, few_shot, use_demos, tuned):
    """Class probabilities. Returns (notes, label scores, prompt as the model saw it, word table, raw JSON)."""
    def run():
        spec = _spec(template, verbalizer)
        own = tuned is not None and (isinstance(tuned, sentence_embedding.SentenceEncoder) or tuned.name == model_name)
        return prompt_cls.predict(text, spec, backend, model_name, bool(calibrate), _rows(few_shot),
                                  bool(use_demos), tuned if own else None)

    r = run_model(run)
    info = f"Backend `{r.backend}` · model `{r.model}` · {'calibrated' if r.calibrated else 'uncalibrated'} · {r.seconds * 1000:.0f} ms"
    return (notices_markdown(r.notices, info), r.scores, r.prompt,
            pd.DataFrame(r.word_scores), r.to_dict())


def finetune(template, verbalizer, backend, model_name, few_shot, epochs, progress=gr.Progress()):
    """Fine-tuning on the few-shot table, for this session only: prompt-based fine-tuning of the masked LM
    (cloze backend) or SetFit (embedding backend)."""
    def run():
        spec = _spec(template, verbalizer)
        if backend == "embedding":
            pairs = prompt_cls.check_examples(spec, _rows(few_shot))
            return sentence_embedding.setfit(pairs, progress=lambda f, d: progress(f, desc=d))
        return prompt_cls.prompt_finetune(spec, _rows(few_shot), model_name, int(epochs),
                                          progress=lambda f, d: progress(f, desc=d))

    tuned = run_model(run)
    m = tuned.meta
    if backend == "embedding":
        return tuned, (f"✅ SetFit on {m['tuned_on']} examples: contrastive fine-tuning of a copy of the encoder "
                       f"(loss {m['losses'][0]:.3f} → {m['losses'][-1]:.3f}), then a logistic-regression head. "
                       f"The embedding backend now uses it for this session; **Reset** to go back.")
    return tuned, (f"✅ Tuned `{model_name}` on {m['tuned_on']} examples for {m['epochs']} epochs "
                   f"(loss {m['losses'][0]:.3f} → {m['final_loss']:.3f}). The cloze backend now uses it for this "
                   f"session; **Reset** to go back.")


def read_csv(file) -> pd.DataFrame:
    """Few-shot examples from an uploaded CSV/TSV with columns text,label (read as data only)."""
    return run_model(prompt_cls.read_few_shot_table, file)





def build() -> None:
    gr.Markdown(INTRO)
    tuned = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            text = gr.Textbox(label="Text to classify", lines=3, value=EXAMPLES[0][0], max_length=20_000)
            preset = gr.Dropdown(list(prompt_cls.PRESETS), value=DEFAULT_PRESET, label="Preset")
            template = gr.Textbox(label="Template ({text} = the input, {mask} = the blank)",
                                  value=prompt_cls.PRESETS[DEFAULT_PRESET][0])
            verbalizer = gr.Dataframe(_verbalizer_table(DEFAULT_PRESET), headers=["label", "words"],
                                      label="Labels and their words (comma-separated; edit freely)",
                                      interactive=True, column_count=2, elem_id="prompt-verbalizer",
                                      elem_classes=["no-file-drop"])
        with gr.Column(scale=2):
            hub = hub_reachable()
            shown = {"nli": "nli" if hub else "nli (needs the Hub: unreachable here)",
                     "ensemble": "ensemble (embedding + cloze)", "supervised": "supervised (SST-2 classifier)"}
            backend = gr.Radio([(shown.get(b, b), b) for b in prompt_cls.BACKENDS], value="cloze", label="Backend")
            model = gr.Dropdown(registry.names(fill_mask.TASK), value=preset_model(DEFAULT_PRESET),
                                label="Masked LM (cloze and ensemble backends; a preset picks the one it suits)")
            calibrate = gr.Checkbox(label="Contextual calibration (divide by the scores of 'N/A')")
            use_demos = gr.Checkbox(label="Add few-shot examples as demonstrations (one per label, the most similar "
                                          "to the text)", info=DEMOS_INFO)
    run = gr.Button("Classify", variant="primary")
    notes = gr.Markdown(label="Notes")
    with gr.Row():
        scores = gr.Label(label="Class probabilities", elem_id="prompt-scores")
        prompt = gr.Textbox(label="The prompt exactly as the model saw it", lines=4, interactive=False)
    words = gr.Dataframe(label="Verbalizer words: word-pieces and log-probability at the mask", interactive=False)
    with gr.Accordion("Few-shot examples: demonstrations and prompt fine-tuning", open=False):
        few_shot = gr.Dataframe(FEW_SHOT_DEFAULT, headers=["text", "label"], interactive=True,
                                column_count=2, label="Labelled examples (text, label)", elem_id="prompt-few-shot",
                                elem_classes=["no-file-drop"])
        upload = gr.File(label="…or upload a CSV/TSV with text,label columns (≤ 1 MB)", file_types=[".csv", ".tsv"])
        with gr.Row():
            epochs = gr.Slider(1, 30, value=10, step=1, label="Prompt fine-tuning epochs (cloze; SetFit runs one epoch of pairs)")
            tune = gr.Button("Fine-tune on these examples (cloze: prompt fine-tuning; embedding: SetFit)")
            reset = gr.Button("Reset to the original model")
        tune_status = gr.Markdown(label="Fine-tuning status")
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON(label="Raw result")
    gr.Examples(EXAMPLES, inputs=[text, preset, backend])

    preset.change(load_preset, preset, [template, verbalizer, model], api_visibility="private")
    upload.upload(read_csv, upload, few_shot, api_visibility="private")
    # preprocess=False: the tables arrive as {"headers", "data"} (or None from an API client) and are
    # checked by our own code, so a missing table is a clear message, not Gradio's generic error
    event = run.click(classify, [text, template, verbalizer, backend, model, calibrate, few_shot, use_demos, tuned],
                      [notes, scores, prompt, words, raw], api_name="classify", preprocess=False,
                      api_description="Zero/few-shot class probabilities of `text` with a cloze template and verbalizer.",
                      **BATCHED)
    clear_on_failure(event, [scores, prompt, words, raw], notes)
    tune.click(finetune, [template, verbalizer, backend, model, few_shot, epochs], [tuned, tune_status],
               api_visibility="private")
    reset.click(lambda: (None, "Using the original model."), None, [tuned, tune_status], api_visibility="private")
