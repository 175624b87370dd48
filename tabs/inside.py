"""Look inside: attention views, layer-wise predictions, head importance and pruning, a projector
with a datapoint editor, and token attribution, for the fill-mask, QA and tagging tabs' models."""
from __future__ import annotations

import html
import json
from pathlib import Path

import gradio as gr
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from models import fill_mask, prompt_cls, qa, registry  # noqa: E402
from models.errors import InputError  # noqa: E402
from models.inside import (attention, attribution, batch, captum_views, compare, corpus_search, factors,  # noqa: E402
                           heads, logit_lens, model_choices, neurons, projector)
from tabs import plots  # noqa: E402
from tabs.common import (clear_on_failure, export_file, figure_files, notices_markdown, run_model,  # noqa: E402
                         table_files, ui_error)

TITLE = "Look inside"
VIEW_TEMPLATE = Path(__file__).resolve().parent / "assets" / "attention_view.html"
SENTIMENT = prompt_cls.SST2_PRESET
def _names(view: str) -> list[str]:
    """The model names a view offers (one tab's models): the registry's capabilities decide."""
    return [c.name for c in registry.for_view(view)]


HEAD_TAGGERS = _names("heads")  # taggers with a labelled sample

INTRO = """
### Look inside the models of the other tabs
**Attention**: every layer and head (head view: lines weighted by attention; model view: all heads at
once, click one to enlarge). **Neurons**: how one head's attention comes about (query, keys, their product). **Layer-wise predictions**: the masked LM's head read off every layer.
**Heads**: which heads matter for tagging (Michel et al., 2019) and what pruning them costs.
**Projector**: a data set embedded and drawn in 2-D; edit a point and see it move. **Attribution**:
which words a prediction rests on, by two of Captum's Integrated Gradients, LIME and occlusion side by side
(sentiment, one entity, a QA answer's start or end, and "why X rather than Y" at a mask). **Transformer factors**: each token's embedding as a sparse sum of dictionary "factors" (Yun et al.,
2021), and what each factor stands for. **Corpus search**: the corpus tokens whose hidden states are nearest to one of yours (exBERT).
**Batch**: a CSV/TSV of reviews, sentences or questions run and explained row by row, with scores
per label and the most influential words. **Compare models**: how alike two models' layers are (linear CKA) and
where their predictions differ. Everything runs here, offline.
"""


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


# ---------- heads ----------

def _heatmap(imp):
    fig, ax = plt.subplots(figsize=(1 + 0.45 * imp.shape[1], 0.9 + 0.45 * imp.shape[0]))
    im = ax.imshow(imp, cmap="viridis")
    ax.set_xticks(range(imp.shape[1]), [str(h + 1) for h in range(imp.shape[1])])
    ax.set_yticks(range(imp.shape[0]), [str(l + 1) for l in range(imp.shape[0])])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title("Head importance |dL/dgate| (normalised per layer)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    plt.close(fig)
    return fig


def parse_heads(spec: str) -> list[tuple[int, int]]:
    """'1-3, 2-5' (layer-head, 1-based) -> [(0, 2), (1, 4)]."""
    out = []
    for part in (spec or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            layer, head = (int(x) for x in part.strip().split("-"))
        except ValueError:
            raise InputError(f"'{part.strip()}' is not layer-head (e.g. 2-5).") from None
        out.append((layer - 1, head - 1))
    return out


def show_pruning(model: str, upload, progress=gr.Progress()):
    progress(0, desc="Computing head importance")
    curve = run_model(heads.pruning_curve, model, upload, progress=lambda f, d: progress(f, desc=d))
    points = pd.DataFrame({"fraction of heads pruned": curve.fractions, "accuracy": curve.accuracies})
    nl, nh = curve.importance.shape
    least = heads.pruning_order(curve.importance)[:5]
    info = (f"`{curve.model}`: {nl} layers × {nh} heads, {curve.n_words:,} labelled words. Least important heads "
            f"(layer-head): {', '.join(f'{l + 1}-{h + 1}' for l, h in least)}. A layer's last head is never pruned.")
    heat = _heatmap(curve.importance)
    importance = pd.DataFrame(curve.importance, index=pd.Index(range(1, nl + 1), name="layer"),
                              columns=[f"head {h + 1}" for h in range(nh)]).round(5).reset_index()
    files = (figure_files(heat, "head-importance") + table_files(importance, "head-importance")
             + table_files(points, "pruning-curve")
             + figure_files(plots.line_figure(points, "fraction of heads pruned", "accuracy"), "pruning-curve"))
    return info, heat, points, files


def prune_and_score(model: str, upload, spec: str):
    base, pruned, n = run_model(lambda: heads.prune_and_score(model, upload, parse_heads(spec)))
    return f"Accuracy with all heads: **{base:.4f}**; with {n} head(s) pruned: **{pruned:.4f}** ({pruned - base:+.4f})."


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


# ---------- compare two models ----------

def _cka_plot(res: compare.Comparison):
    na, nb = res.cka.shape
    fig, ax = plt.subplots(figsize=(1.6 + 0.6 * nb, 1.2 + 0.55 * na))
    im = ax.imshow(res.cka, cmap="viridis", vmin=0, vmax=1, origin="lower")
    for i in range(na):
        for j in range(nb):
            ax.text(j, i, f"{res.cka[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if res.cka[i, j] > 0.6 else "white")
    ax.set_xticks(range(nb), ["emb"] + [str(j) for j in range(1, nb)])
    ax.set_yticks(range(na), ["emb"] + [str(i) for i in range(1, na)])
    ax.set_xlabel(f"B: {res.model_b} (layer)")
    ax.set_ylabel(f"A: {res.model_a} (layer)")
    ax.set_title(f"Linear CKA over {res.n_words} words")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    plt.close(fig)
    return fig


def show_comparison(text: str, model_a: str, model_b: str):
    res = run_model(compare.compare, text, model_a, model_b)
    labels_a = ["embeddings"] + [f"A layer {i}" for i in range(1, res.cka.shape[0])]
    labels_b = ["embeddings"] + [f"B layer {j}" for j in range(1, res.cka.shape[1])]
    csv = export_file("cka.csv", pd.DataFrame(res.cka.round(4), index=labels_a, columns=labels_b).to_csv())
    same = [f"{res.cka[i, i]:.2f}" for i in range(min(res.cka.shape))]
    info = (f"A = `{res.model_a}`, B = `{res.model_b}`, {res.n_words} words. CKA of the same layer, embeddings up: "
            f"{' · '.join(same)} (1 = the same representation up to rotation and scale).")
    if res.diff_kind:
        changed = sum(not r["same"] for r in res.diff)
        info += f" Predictions ({res.diff_kind}): {changed} of {len(res.diff)} rows differ."
    diff = pd.DataFrame(res.diff) if res.diff else pd.DataFrame(columns=["A", "B", "same"])
    fig = _cka_plot(res)
    return notices_markdown(res.notices, info), fig, diff, [csv, *figure_files(fig, "cka")]


def build() -> None:
    gr.Markdown(INTRO)
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
            n_model = gr.Dropdown(model_choices("neurons"), value=models[0], label="Model", scale=1)
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
            l_model = gr.Dropdown(_names("logit-lens"), value=fill_mask.DEFAULT_MODEL, label="Masked LM", scale=1)
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
    with gr.Tab("Heads"):
        gr.Markdown("Importance of each head for a tagger on a labelled set (built-in: 100 sentences of the model's "
                    "data set; or upload CoNLL-U for UPOS / CoNLL-2003 for NER), then the least important heads "
                    "pruned step by step.")
        with gr.Row():
            h_model = gr.Dropdown(HEAD_TAGGERS, value=HEAD_TAGGERS[0], label="Tagger")
            h_file = gr.File(label="Labelled file (optional, .conllu / CoNLL)", file_types=[".conllu", ".txt", ".conll"],
                             type="filepath")
        h_btn = gr.Button("Importance and pruning curve", variant="primary")
        h_notes = gr.Markdown(label="Notes")
        with gr.Row():
            h_heat = gr.Plot(label="Head importance")
            h_curve = gr.LinePlot(x="fraction of heads pruned", y="accuracy", label="Accuracy vs heads pruned")
        h_files = gr.File(label="Downloads: importance (PNG, SVG, CSV, JSON), pruning curve (CSV, JSON, PNG, SVG)",
                          file_count="multiple")
        with gr.Row():
            h_spec = gr.Textbox(label="Prune these heads (layer-head, e.g. 1-3, 2-5)", value="1-1, 2-2")
            h_prune = gr.Button("Prune and re-evaluate")
        h_result = gr.Markdown(label="Pruning result")
        clear_on_failure(h_btn.click(show_pruning, [h_model, h_file], [h_notes, h_heat, h_curve, h_files],
                                     api_name="inside_pruning"), [h_heat, h_curve, h_files], h_notes)
        clear_on_failure(h_prune.click(prune_and_score, [h_model, h_file, h_spec], h_result, api_name="inside_prune"),
                         [], h_result)
    with gr.Tab("Projector"):
        gr.Markdown(f"Each text is the mean of the model's last hidden layer, projected to 2-D. Upload a CSV/TSV "
                    f"(a `text` or `sentence` column, optional `label`; up to {projector.MAX_ROWS} rows are drawn) or "
                    f"use the built-in SST-2 sample. Click a row of the table, edit its text, re-run: the edited "
                    f"point is drawn as EDITED.")
        with gr.Row():
            p_model = gr.Dropdown(model_choices("projector"), value=models[0], label="Model")
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
                t_model = gr.Dropdown(_names("explain-classification"), value=fill_mask.DEFAULT_MODEL, label="Masked LM")
                t_a, t_b = _method_pickers(lime)
            t_btn = gr.Button("Explain with both", variant="primary")
            t_outs = _two_method_outputs()
        with gr.Accordion("Fill-mask: why X rather than Y", open=True):
            with gr.Row():
                x_text = gr.Textbox(label="Text with [MASK]", value="The movie was [MASK], I loved every minute.",
                                    scale=3)
                x_x = gr.Textbox(label="X", value="great")
                x_y = gr.Textbox(label="Y", value="terrible")
                x_model = gr.Dropdown(_names("explain-contrast"), value=fill_mask.DEFAULT_MODEL, label="Masked LM")
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
                s_model = gr.Dropdown(_names("explain-qa"), value=qa.DEFAULT_MODEL, label="QA model")
                s_a, s_b = _method_pickers(occlusion)
                s_btn = gr.Button("Explain the answer", variant="primary")
            s_outs = _two_method_outputs()
        with gr.Accordion("Named entities (the tagging tab): one entity at a time", open=False):
            with gr.Row():
                e_text = gr.Textbox(label="Text", value="Angela Merkel met Emmanuel Macron in Berlin on Tuesday.", scale=3)
                e_num = gr.Number(value=2, precision=0, label="Entity (1 = the first found)")
                e_model = gr.Dropdown(_names("explain-entity"), value="embedded-ner", label="Tagger")
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
    with gr.Tab("Corpus search"):
        gr.Markdown("Pick a token of your sentence and a layer: the corpus token contexts whose hidden states are "
                    "nearest (cosine), with their neighbouring words and what the model predicts there (masked "
                    "LMs). Corpus: the built-in samples (movie snippets, news, web text; about 10k tokens). Low "
                    "layers match the same word; higher layers match the same role (a river *bank* finds *river*, "
                    "*street*, *area*).")
        with gr.Row():
            c_text2 = gr.Textbox(label="Sentence", value="We sat on the river bank.", scale=3)
            c_model2 = gr.Dropdown(model_choices("corpus-search"), value=models[0], label="Model", scale=1)
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
    with gr.Tab("Compare models"):
        gr.Markdown("Two models on the same sentences (one per line): how alike their layers are, by linear CKA "
                    "(Kornblith et al., 2019) over each word's first sub-token, and where their predictions differ "
                    "(fill-mask: the first line's [MASK]; tagging: every word). Try the general vs the movie-review "
                    "masked LM, or the NER vs the POS tagger (same encoder, fine-tuned apart).")
        with gr.Row():
            m_text = gr.Textbox(label="Sentences (one per line)", lines=6, value=compare.DEFAULT_SENTENCES, scale=3)
            with gr.Column(scale=1):
                m_a = gr.Dropdown(model_choices("compare"), value=registry.choice(fill_mask.TASK, "embedded-general"), label="Model A")
                m_b = gr.Dropdown(model_choices("compare"), value=registry.choice(fill_mask.TASK, "embedded-movies"), label="Model B")
                m_btn = gr.Button("Compare", variant="primary")
        m_notes = gr.Markdown(label="Notes")
        with gr.Row():
            m_plot = gr.Plot(label="Layer-by-layer similarity (linear CKA)")
            m_diff = gr.Dataframe(label="Prediction diff", interactive=False, max_height=420)
        m_csv = gr.File(label="Downloads: CKA matrix (CSV), plot (PNG, SVG)", file_count="multiple")
        clear_on_failure(m_btn.click(show_comparison, [m_text, m_a, m_b], [m_notes, m_plot, m_diff, m_csv],
                                     api_name="inside_compare", api_description="Linear CKA between every layer of "
                                     "two models on the same sentences, and a diff of their predictions."),
                         [m_plot, m_diff, m_csv], m_notes)
