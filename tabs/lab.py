"""Fine-tuning lab tab: pick strategies, press Run, watch them learn the same task side by side."""
from __future__ import annotations

import json

import gradio as gr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from models.errors import InputError  # noqa: E402
from models.lab import data, recorded, runner, strategies  # noqa: E402
from tabs.common import export_file, figure_files, run_model, table_files, ui_error  # noqa: E402

TITLE = "Fine-tuning lab"
POLL_SECONDS = 1.0

INTRO = """
### How is a pre-trained encoder adapted to a task?
Every strategy below starts from the same pre-trained MiniLM-L6 encoder and trains on the same rows for the
same time. They differ in **which representation feeds the classifier head** (the embeddings, one layer, the
top layer, or a learned mix of all layers), **what trains** (only the head, every weight, only the biases,
small added modules such as LoRA, adapters or IA3) and **when** (gradual unfreezing, chain-thaw). Press Run:
one loss curve and one development-metric curve per strategy appear while they train (one run at a time
on this machine: a second visitor waits in line). Frozen strategies compute the encoder's features once, so
their steps are cheap; full fine-tuning moves 22 M weights. The tasks: a sentence label (SST-2, your own
file; metric: accuracy), a label per word (CoNLL-2003 entities, the head reads each token's vector;
metric: entity F1), or Chinese reviews (ChnSentiCorp) on the mini ChineseBERT, whose embeddings fuse each
character with its glyph and pinyin (strategies built for the English model are refused there, by name).
"""
TASKS = [("SST-2 movie-review sentiment", "sst2"), ("CoNLL-2003 named entities (a tag per word)", "conll2003"),
         ("ChnSentiCorp Chinese review sentiment (mini ChineseBERT: glyph + pinyin)", "chnsenticorp"),
         ("My own CSV / TSV (a text and a label column)", "upload")]


def _choices() -> list[tuple[str, str]]:
    return [(f"{s.name} ({s.group}): {s.summary}", s.name) for s in strategies.STRATEGIES]


def _status(run: runner.LiveRun) -> str:
    head = f"**{run.task.source}** · {run.seconds:.0f} s per strategy · seed {run.seed}"
    if run.position > 0:
        head += f"\n\n⏳ Another visitor's lab run is training: you are number {run.position} in line."
    lines = [f"- `{name}`: {run.lines.get(name, '')}" for name in run.strategies]
    if run.error:
        lines.append(f"\n**The run stopped:** {run.error}")
    return head + "\n" + "\n".join(lines)


def _curves(run: runner.LiveRun, which: int, ylabel: str):
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for name in run.strategies:
        pts = list(run.points.get(name, []))
        if pts:
            ax.plot([p[0] for p in pts], [p[which] for p in pts], "o-", ms=3, label=name)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    if any(run.points.values()):
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    plt.close(fig)
    return fig


def metric_column(metric_name: str) -> str:
    return "dev_" + metric_name.replace(" ", "_")  # dev_accuracy, dev_entity_F1


def results_table(run: runner.LiveRun) -> pd.DataFrame:
    rows = [{**{k: v for k, v in r.summary().items() if k not in ("mix_weights", "task")},
             "peak_memory_mb": run.peak_mb.get(r.strategy)} for r in run.results]
    cols = ["strategy", "metric", "trainable_params", "stored_mb", "seconds", "steps", "epochs", "peak_memory_mb"]
    return pd.DataFrame(rows, columns=cols).rename(columns={"metric": metric_column(run.task.metric_name)})


def pareto_figure(table: pd.DataFrame, std: list[float] | None = None, metric: str = "accuracy"):
    fig, ax = plt.subplots(figsize=(6, 3.4))
    col = metric_column(metric)
    if len(table):
        ax.errorbar(table["trainable_params"], table[col], yerr=std, fmt="o", ms=5, capsize=3)
        for _, r in table.iterrows():
            ax.annotate(r["strategy"], (r["trainable_params"], r[col]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel(f"development {metric}")
    ax.set_title(f"{metric[0].upper() + metric[1:]} against what trains", fontsize=9)
    fig.tight_layout()
    plt.close(fig)
    return fig


def mix_figure(run: runner.LiveRun):
    mixes = [(r.strategy, r.mix_weights) for r in run.results if r.mix_weights]
    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (name, w) in enumerate(mixes):
        width = 0.8 / len(mixes)
        ax.bar([x + i * width for x in range(len(w))], w, width=width, label=name)
    ax.set_xlabel("layer (0 = embeddings)")
    ax.set_ylabel("softmax weight")
    ax.set_title("Learned scalar-mix weights" if mixes else "No scalar-mix strategy in this run", fontsize=9)
    if mixes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig


def curve_figure(run: runner.LiveRun):
    fig, ax = plt.subplots(figsize=(6, 3.2))
    df = pd.DataFrame(run.curve)
    for name, part in (df.groupby("strategy", sort=False) if len(df) else []):
        ax.plot(part["examples"], part["metric"], "o-", ms=4, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("training rows (log scale)")
    ax.set_ylabel(f"dev {run.task.metric_name}")
    ax.set_title("Learning curve" if len(df) else "Tick 'learning curve' before Run to draw one", fontsize=9)
    if len(df):
        ax.legend(fontsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _downloads(run: runner.LiveRun, table: pd.DataFrame, figures: dict) -> list[str]:
    from safetensors.torch import save

    files = table_files(table, "lab-results")
    for stem, fig in figures.items():
        files.append(figure_files(fig, stem)[0])  # PNG
    for r in run.results:
        tensors = runner.trained_tensors(run, r.strategy)
        if tensors:
            meta = {"strategy": r.strategy, "task": run.task.source, "labels": json.dumps(run.task.labels),
                    metric_column(run.task.metric_name): str(round(r.metric, 4)), "seed": str(run.seed)}
            files.append(export_file(f"lab-{r.strategy}.safetensors", save(tensors, metadata=meta)))
    return files


def train_live(task, upload, examples, seconds, seed, names, learning_curve, previous):
    """A generator: the status, both curves every second while training, then the table, figures, files."""
    runner.drop(previous)  # one run's variants per visitor
    task_data = run_model(data.load_task, task, int(examples), int(seed), upload=upload)
    run = run_model(runner.start, task_data, list(names or []), float(seconds), int(seed), bool(learning_curve))
    dev = f"dev {task_data.metric_name} (200 rows)"
    try:
        while not run.finished.wait(POLL_SECONDS):
            yield (_status(run), _curves(run, 1, "training loss"), _curves(run, 2, dev),
                   gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), run.id)
        table = results_table(run)
        figures = {"lab-loss": _curves(run, 1, "training loss"), "lab-dev": _curves(run, 2, dev),
                   "lab-pareto": pareto_figure(table, metric=task_data.metric_name), "lab-mix": mix_figure(run),
                   "lab-learning-curve": curve_figure(run)}
        yield (_status(run), figures["lab-loss"], figures["lab-dev"], table, figures["lab-pareto"],
               figures["lab-mix"], figures["lab-learning-curve"], _downloads(run, table, figures), run.id)
    finally:
        if not run.finished.is_set():  # Cancel pressed, or the visitor left: the training stops too
            run.cancel()


def cancel(run_id):
    run = runner.get_run(run_id)
    if run is not None:
        run.cancel()
    return "Cancelled: the strategy that was training stops at its next step; the others do not start."


def classify(sentence, run_id):
    run = runner.get_run(run_id)
    if run is None or not run.results:
        raise ui_error("Train some strategies first (Run above); then every trained variant reads the sentence.",
                       "Nothing trained yet")
    return pd.DataFrame(run_model(runner.classify, run, sentence))


GROUPS = list(dict.fromkeys(s.group for s in strategies.STRATEGIES))


def recorded_view(groups, task="sst2"):
    """The shipped comparison of one task (every strategy x 3 seeds), filtered by strategy group: notes, table,
    Pareto plot."""
    try:
        raw = [r for r in recorded.load() if r["task"] == task]
    except InputError as exc:
        return str(exc), pd.DataFrame(), None
    if not raw:
        return f"The recorded file has no {task} runs yet (`python -m models.lab record --task {task}`).", \
            pd.DataFrame(), None
    group_of = {s.name: s.group for s in strategies.STRATEGIES}
    table = pd.DataFrame([{**r, "group": group_of.get(r["strategy"], "?"), "seeds": len(r["seeds"])}
                          for r in recorded.summary(raw) if group_of.get(r["strategy"]) in (groups or GROUPS)])
    if table.empty:
        return "No strategy of the chosen groups is in the recorded file.", table, None
    first, metric = raw[0], raw[0].get("metric_name", "accuracy")
    notes = (f"Recorded with `{first['command']}` on {first['date']}: {first['data']}; every strategy the same "
             f"{first['max_steps']} training steps (batch 32), development {metric} on {first['dev_rows']} "
             f"held-out rows, mean ± std over seeds.")
    fig = pareto_figure(table.rename(columns={"metric": metric_column(metric)}), table["std"].tolist(), metric)
    return notes, table[["task", "strategy", "group", "metric", "std", "seeds", "trainable_params", "stored_mb",
                         "seconds", "steps", "examples"]], fig


def build() -> None:
    gr.Markdown(INTRO)
    with gr.Accordion("Recorded comparison: every strategy, 3 seeds each (nothing to train)", open=False):
        with gr.Row():
            rec_task = gr.Radio([t for t in TASKS if t[1] != "upload"], value="sst2", label="Recorded task")
            rec_groups = gr.CheckboxGroup(GROUPS, value=GROUPS, label="Strategy groups")
        rec_btn = gr.Button("Show the recorded comparison")
        rec_notes = gr.Markdown(label="Recorded comparison notes")
        rec_table = gr.Dataframe(label="Recorded comparison", interactive=False, elem_id="lab-recorded")
        rec_plot = gr.Plot(label="Recorded: development metric against trainable parameters")
    rec_btn.click(recorded_view, [rec_groups, rec_task], [rec_notes, rec_table, rec_plot], api_name="lab_recorded")
    for control in (rec_groups, rec_task):
        control.change(recorded_view, [rec_groups, rec_task], [rec_notes, rec_table, rec_plot],
                       api_visibility="private")
    with gr.Row():
        task = gr.Radio(TASKS, value="sst2", label="Task")
        upload = gr.File(label="CSV / TSV for 'My own' (columns: text, label)", file_types=[".csv", ".tsv"],
                         type="filepath")
    with gr.Row():
        examples = gr.Slider(16, 5000, value=2000, step=1, label="Training examples")
        seconds = gr.Slider(5, runner.MAX_SECONDS, value=30, step=5, label="Time budget per strategy (s)")
        seed = gr.Number(0, precision=0, label="Seed")
    names = gr.CheckboxGroup(_choices(), value=list(strategies.DEFAULT), label="Strategies (several at once)")
    learning_curve = gr.Checkbox(label=f"Learning curve: afterwards, train each strategy again on the first "
                                       f"{', '.join(map(str, runner.CURVE_SIZES))} rows (smaller than the set)")
    with gr.Row():
        run_btn = gr.Button("Run", variant="primary")
        cancel_btn = gr.Button("Cancel")
    status = gr.Markdown(label="Progress")
    with gr.Row():
        loss_plot = gr.Plot(label="Training loss")
        dev_plot = gr.Plot(label="Development metric")
    table = gr.Dataframe(label="Per strategy: dev metric, trainable parameters, MB stored per task, time, "
                               "peak extra memory", interactive=False, elem_id="lab-table")
    with gr.Row():
        pareto = gr.Plot(label="Accuracy against trainable parameters")
        mix = gr.Plot(label="Scalar-mix weights")
        curve = gr.Plot(label="Learning curve")
    files = gr.File(label="Downloads: table (CSV, JSON), figures (PNG), each trained head / adapter (safetensors)",
                    file_count="multiple")
    with gr.Row():
        sentence = gr.Textbox(label="A sentence for every trained variant",
                              value="Tom Hanks gives a gripping, beautifully judged performance as a Paris banker.",
                              max_length=2000, scale=3)
        sent_btn = gr.Button("Run every variant on it", scale=1)
    sent_table = gr.Dataframe(label="Each trained variant's label (a tag task: its entities and every word's tag)",
                              interactive=False, elem_id="lab-sentence")
    run_id = gr.State(None, time_to_live=runner.KEEP_SECONDS, delete_callback=runner.drop)
    event = run_btn.click(train_live, [task, upload, examples, seconds, seed, names, learning_curve, run_id],
                          [status, loss_plot, dev_plot, table, pareto, mix, curve, files, run_id], api_name="lab_run",
                          concurrency_limit=4, concurrency_id="lab")
    cancel_btn.click(cancel, [run_id], [status], cancels=[event], api_visibility="private")
    sent_btn.click(classify, [sentence, run_id], [sent_table], api_name="lab_classify")
