"""Look inside: Batch mode: a CSV/TSV run and explained row by row."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from models.inside import batch
from tabs.common import clear_on_failure, export_file, notices_markdown, run_model


# ---------- batch mode ----------

BATCH_TASKS = {"Sentiment (prompt tab's cloze classifier)": "sentiment", "Named entities (tagging tab)": "entities",
               "Question answering (QA tab)": "qa"}
BATCH_HELP = {
    "sentiment": "a `text` or `sentence` column, optional `label` (negative/positive or 0/1)",
    "entities": "a `text` column, optional `label` with the gold entities (`PER: John Smith; LOC: Paris`)",
    "qa": "`question` and `context` columns, optional `answer` (several: `a | b`); about 1.2 s a row (the 10-row "
          "sample: 12 s on a 2-core CPU, `python -m benchmarks.bench_batch --tasks qa`)",
}


BATCH_STOPPED = "⏹️ Stopped (cancelled, or failed: an error message says why); the rows run so far are not kept."


def batch_task_changed(task: str):
    names = batch.models_for(task)
    return gr.update(choices=names, value=batch.DEFAULT_MODELS[task]), \
        f"File for this task: {BATCH_HELP[task]}; at most {batch.MAX_ROWS[task]} rows run."


def show_batch(upload, task: str, model: str, progress=gr.Progress()):
    progress(0, desc="Running")
    res = run_model(batch.run_batch, upload, model, task, progress=lambda f, d: progress(f, desc=d))
    rows = pd.DataFrame(res.rows)
    total = next((r for r in res.per_label if r["label"] == "all"), None)
    what = {"sentiment": "classified by the cloze sentiment classifier", "entities": "tagged (named entities)",
            "qa": "answered"}[task]
    how = "gradient × input (one backward pass a row)" if res.task == "qa" else "occlusion"
    info = f"{len(res.rows)} rows {what} on `{model}`, each explained by Captum {how}."
    if total and task == "sentiment":
        info += f" Accuracy on the labelled rows: **{total['accuracy']:.3f}** ({total['rows']} rows)."
    elif total and task == "entities":
        info += f" Entity F1 on the labelled rows: **{total['f1']:.3f}** ({total['gold']} gold entities)."
    elif total:
        info += f" On the rows with answers: exact match **{total['exact_match']:.1f}**, F1 **{total['f1']:.1f}**."
    out = export_file(f"batch-{task}-results.csv", rows.to_csv(index=False))
    return (notices_markdown(res.notices, info), rows, pd.DataFrame(res.per_label), pd.DataFrame(res.influential), out)


def build() -> None:
    with gr.Tab("Batch"):
        gr.Markdown("Upload a CSV/TSV for one task (20 MB at most) or run its built-in sample (SST-2, CoNLL-2003 "
                    "or SQuAD rows). Each row: what the task's tab predicts, and the words that carry it (Captum "
                    "occlusion; QA rows: gradient × input, one backward pass, as occlusion costs a forward pass of "
                    "the whole window per word); then a score per label where the file gives gold labels, and the words that "
                    "moved predictions most over the file. Cancel stops between rows.")
        with gr.Row():
            b_task = gr.Radio(list(BATCH_TASKS.items()), value="sentiment", label="Task")
            b_file = gr.File(label="CSV / TSV (optional)", file_types=[".csv", ".tsv"], type="filepath")
            # the list follows the task; any name is accepted here and checked by batch.run_batch, so API
            # callers can name the models of every task (Gradio checks against the first list only)
            b_model = gr.Dropdown(batch.models_for("sentiment"), value=batch.DEFAULT_MODELS["sentiment"],
                                  allow_custom_value=True,
                                  label="Model (the list follows the task; reviews suit the movie-review MLM)")
            with gr.Column():
                b_btn = gr.Button("Run batch", variant="primary")
                b_cancel = gr.Button("Cancel")
        b_help = gr.Markdown(f"File for this task: {BATCH_HELP['sentiment']}; at most {batch.MAX_ROWS['sentiment']} "
                             f"rows run.")
        b_notes = gr.Markdown(label="Notes")
        b_rows = gr.Dataframe(label="Per row: prediction and the words that carry it", interactive=False,
                              max_height=360)
        with gr.Row():
            b_acc = gr.Dataframe(label="Scores per label (labelled rows)", interactive=False)
            b_words = gr.Dataframe(label="Most influential words over the file", interactive=False, max_height=360)
        b_csv = gr.File(label="Download the results (CSV)")
        b_task.change(batch_task_changed, b_task, [b_model, b_help], api_visibility="private")
        b_event = b_btn.click(show_batch, [b_file, b_task, b_model], [b_notes, b_rows, b_acc, b_words, b_csv],
                              api_name="inside_batch",
                              api_description="Run and explain every row of a CSV/TSV for one task "
                                              "(sentiment, entities, qa).")
        # Gradio reports a cancelled run as a failed one (and a message of the Cancel button's own raced that
        # report): one note covers both
        clear_on_failure(b_event, [b_rows, b_acc, b_words, b_csv], b_notes, BATCH_STOPPED)
        b_cancel.click(None, None, None, cancels=[b_event], api_visibility="private")
