"""Look inside: A data set embedded by a model and drawn in 2-D, with a datapoint editor."""
from __future__ import annotations


import gradio as gr
import pandas as pd

from models.inside import model_choices, projector
from tabs import plots
from tabs.common import clear_on_failure, figure_files, notices_markdown, run_model, table_files, ui_error


# ---------- projector ----------

def _scatter(proj: projector.Projection, colour: str, edited=None):
    df = proj.frame()
    if colour == "prediction":
        if proj.predictions is None:  # once per projection: a re-run only adds the edited point
            proj.predictions = projector.sentiment_predictions(proj.texts, proj.model)
        df["label"] = proj.predictions
    if edited is not None:
        df = pd.concat([df, pd.DataFrame([{"index": -1, "x": edited[0][0], "y": edited[0][1], "label": "EDITED",
                                           "text": edited[1]}])], ignore_index=True)
    return df


def show_projection(model: str, upload, method: str, colour: str, progress=gr.Progress()):
    def run():
        progress(0.1, desc="Reading the data")
        texts, labels, notes = projector.read_table(upload or projector.SAMPLE)
        progress(0.3, desc=f"Embedding {len(texts)} texts")
        proj = projector.project(texts, labels, model, method, notices=notes)
        return proj, _scatter(proj, colour)
    proj, df = run_model(run)
    src = "your file" if upload else "the built-in SST-2 sample (300 rows)"
    info = notices_markdown(proj.notices, f"{len(proj.texts)} texts from {src}, `{proj.model}`, {method}.")
    files = table_files(df, "projection") + figure_files(
        plots.line_figure(df, "x", "y", "label", f"{proj.model}, {method}", scatter=True), "projection")
    return info, df, df.drop(columns=["x", "y"]), proj, files


def pick_point(proj, evt: gr.SelectData):
    if proj is None:
        return gr.update(), ""
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    return row, proj.texts[row]


def rerun_point(proj, index, text: str, colour: str):
    if proj is None:
        raise ui_error("Project a data set first.", "Cannot run this")
    where = run_model(proj.place, text)
    df = run_model(_scatter, proj, colour, (where, text))
    msg = f"The edited text lands at ({where[0]:.3f}, {where[1]:.3f})"
    if index is not None and 0 <= int(index) < len(proj.texts):
        old = proj.points[int(index)]
        msg += f"; point {int(index)} was at ({old[0]:.3f}, {old[1]:.3f})."
    return msg, df


def build() -> None:
    with gr.Tab("Projector"):
        gr.Markdown(f"Each text is the mean of the model's last hidden layer, projected to 2-D. Upload a CSV/TSV "
                    f"(a `text` or `sentence` column, optional `label`; up to {projector.MAX_ROWS} rows are drawn) or "
                    f"use the built-in SST-2 sample. Click a row of the table, edit its text, re-run: the edited "
                    f"point is drawn as EDITED.")
        with gr.Row():
            p_model = gr.Dropdown(model_choices("projector"), value=model_choices("projector")[0], label="Model")
            p_file = gr.File(label="CSV / TSV (optional)", file_types=[".csv", ".tsv"], type="filepath")
            methods = [m for m in projector.METHODS if m == "PCA" or projector.umap_available()]
            p_method = gr.Radio(methods, value="PCA", label="Projection")
            p_colour = gr.Radio(["label", "prediction"], value="label", label="Colour by")
        p_btn = gr.Button("Project", variant="primary")
        p_notes = gr.Markdown(label="Notes")
        p_plot = gr.ScatterPlot(x="x", y="y", color="label", tooltip=["index", "text"], label="Projection", height=420)
        p_state = gr.State()
        with gr.Row():
            p_index = gr.Number(label="Selected point", precision=0)
            p_edit = gr.Textbox(label="Its text: edit, then re-run", scale=3)
            p_rerun = gr.Button("Re-run edited point")
        p_moved = gr.Markdown(label="Where the edited point lands")
        p_table = gr.Dataframe(label="Points (click a row to edit it)", interactive=False, max_height=300)
        p_files = gr.File(label="Downloads: points (CSV, JSON), projection (PNG, SVG)", file_count="multiple")
        clear_on_failure(p_btn.click(show_projection, [p_model, p_file, p_method, p_colour],
                                     [p_notes, p_plot, p_table, p_state, p_files], api_name="inside_projector"),
                         [p_plot, p_table, p_state, p_files], p_notes)
        p_table.select(pick_point, [p_state], [p_index, p_edit], api_visibility="private")
        clear_on_failure(p_rerun.click(rerun_point, [p_state, p_index, p_edit, p_colour], [p_moved, p_plot],
                                       api_visibility="private"), [], p_moved)
