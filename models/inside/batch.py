"""Batch mode: a CSV/TSV through one task's model, each row explained by Captum occlusion (the "Two methods"
view's method), then an aggregate and a result file.

Tasks and their files (the built-in sample runs when no file is given):
  sentiment  `text`/`sentence` [+ `label`: negative/positive or 0/1] -> the prompt tab's cloze classifier;
             accuracy per label.
  entities   `text` [+ `label`: gold entities as "PER: John Smith; LOC: Paris"] -> the tagging tab's NER
             model; the most confident entity explained; precision / recall / F1 per entity type.
  qa         `question`, `context` [+ `answer`, several separated by " | "] -> the QA tab's answer; its start
             logit explained; exact match and F1 (official SQuAD scoring).
Rows run one at a time, reporting progress, so a long file can be cancelled from the UI between rows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from models import prompt_cls, qa, readers, registry, scoring, tagging
from models.errors import InputError
from models.inside import captum_views, projector

TASKS = ("sentiment", "entities", "qa")
# one explanation per row: ~0.25 s (a review), ~0.2 s (a sentence), ~4 s (a SQuAD paragraph: one occlusion pass
# per context word of the answer's window), measured with the built-in samples (RESULTS.md, session 6)
MAX_ROWS = {"sentiment": 200, "entities": 100, "qa": 50}
SAMPLE_ROWS = 40  # sentiment; entities run half of it, qa a quarter
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
NER_SAMPLE = SAMPLES / "conll2003-testa-100.txt"
QA_SAMPLE = SAMPLES / "squad-dev-a-20.tsv"
NAMES = {"0": "negative", "1": "positive"}
METHOD = "Occlusion"  # sentiment and entity rows; QA rows use gradient x input (captum_views.GRADIENT_X_INPUT): speed


@dataclass
class BatchResult:
    task: str
    rows: list[dict]  # per task: the prediction, its gold value and score, the words for / against it, the input
    per_label: list[dict]  # sentiment: accuracy per label; entities: P/R/F1 per type; qa: EM/F1; each + "all"
    influential: list[dict]  # word, rows, total score towards the predictions, mean
    notices: list[str] = field(default_factory=list)


def _for_and_against(att) -> tuple[str, str, list[tuple[str, float]]]:
    scored = sorted(((w, s) for w, s in att.spans if s is not None), key=lambda p: -p[1])
    return (", ".join(w for w, s in scored[:3] if s > 0), ", ".join(w for w, s in reversed(scored[-3:]) if s < 0),
            scored)


def _influential(words: dict[str, list[float]]) -> list[dict]:
    return sorted(({"word": w, "rows": len(s), "total": round(sum(s), 3), "mean": round(sum(s) / len(s), 3)}
                   for w, s in words.items()), key=lambda d: -abs(d["total"]))[:15]


def _add_words(words: dict, scored) -> None:
    for w, s in scored:
        key = w.lower().strip(".,!?;:\"'()")
        if key:
            words[key].append(s)


# ---------- sentiment ----------

def _sentiment(path, model, progress):
    if path is None:
        texts, labels, _ = projector.read_table(projector.SAMPLE, max_rows=SAMPLE_ROWS, sample=False)
        notices = [f"No file given: the first {SAMPLE_ROWS} rows of the built-in SST-2 sample."]
    else:
        texts, labels, notices = projector.read_table(path, max_rows=MAX_ROWS["sentiment"], sample=False)
        labels = [NAMES.get(x, x) for x in labels] if labels is not None else None
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    unknown = sorted(set(labels or ()) - set(spec.labels) - {""})
    if unknown:
        notices.append(f"Labels not in the preset ({', '.join(unknown[:5])}) are left out of the accuracy.")
    rows, words = [], defaultdict(list)
    for i, text in enumerate(texts):
        att = captum_views.explain_classification(text, spec, METHOD, model).attribution  # the tab's label
        supports, against, scored = _for_and_against(att)
        gold = labels[i] if labels is not None else ""
        rows.append({"predicted": att.target, "confidence": att.target_score, "label": gold,
                     "correct": (att.target == gold) if gold in spec.labels else None,
                     "supports": supports, "against": against, "text": text})
        _add_words(words, scored)
        _progress(progress, i, len(texts))
    per_label = []
    for lab in spec.labels + ["all"]:
        mine = [r for r in rows if r["correct"] is not None and lab in (r["label"], "all")]
        if mine:
            per_label.append({"label": lab, "rows": len(mine),
                              "accuracy": round(sum(r["correct"] for r in mine) / len(mine), 4)})
    return rows, per_label, words, notices


# ---------- named entities ----------

def parse_entities(cell: str) -> set[tuple[str, str]]:
    """'PER: John Smith; LOC: Paris' -> {('PER', 'John Smith'), ('LOC', 'Paris')}."""
    out = set()
    for part in filter(None, (p.strip() for p in (cell or "").split(";"))):
        kind, sep, text = part.partition(":")
        if not sep or not kind.strip() or not text.strip():
            raise InputError(f"Could not read the gold entity '{part}': write them as 'PER: John Smith; LOC: Paris'.")
        out.add((kind.strip().upper(), " ".join(text.split())))
    return out


def entities_of(words: list[str], tags: list[str]) -> set[tuple[str, str]]:
    """BIO tags of a sentence -> its (type, text) entities (the CoNLL sample's gold), decoded by seqeval."""
    from seqeval.metrics.sequence_labeling import get_entities

    return {(kind, " ".join(words[a:b + 1])) for kind, a, b in get_entities(tags)}


def _entities(path, model, progress):
    if path is None:
        sents = [s for s in readers.read_conll(NER_SAMPLE) if len(s[0]) >= 5][:SAMPLE_ROWS // 2]
        texts = [" ".join(w) for w, _ in sents]
        gold = [entities_of(w, t) for w, t in sents]
        notices = [f"No file given: {len(texts)} sentences of the built-in CoNLL-2003 sample (eng.testa), with "
                   f"their gold entities."]
    else:
        texts, labels, notices = projector.read_table(path, max_rows=MAX_ROWS["entities"], sample=False)
        gold = [parse_entities(x) if x.strip() else None for x in labels] if labels is not None else [None] * len(texts)
    rows, words = [], defaultdict(list)
    gold_tags, pred_tags = [], []  # per labelled row, over the tagger's words: scored by scoring.entity_scores
    for i, text in enumerate(texts):
        res = tagging.predict(text, model)
        found = {(e.label, " ".join(e.text.split())) for e in res.entities}
        row = {"entities": "; ".join(f"{e.label}: {e.text}" for e in res.entities), "explained": "",
               "supports": "", "against": "", "gold": "", "correct": None, "text": text}
        if res.entities:  # the most confident entity, explained over the sentence's words
            best = max(range(len(res.entities)), key=lambda k: res.entities[k].score)
            att = captum_views.explain_entity(text, best + 1, METHOD, model, shown=res).attribution
            row["explained"] = att.target
            row["supports"], row["against"], scored = _for_and_against(att)
            _add_words(words, scored)
        if gold[i] is not None:
            row["gold"] = "; ".join(f"{k}: {t}" for k, t in sorted(gold[i]))
            row["correct"] = found == gold[i]
            g = gold_bio(res.text, res.words, gold[i])
            gold_tags.append(g)
            pred_tags.append([w.label for w in res.words] + ["O"] * (len(g) - len(res.words)))
        rows.append(row)
        _progress(progress, i, len(texts))
    return rows, scoring.entity_scores(gold_tags, pred_tags) if gold_tags else [], words, notices


def gold_bio(text: str, words: list, entities: set[tuple[str, str]]) -> list[str]:
    """Gold entities written as text ('PER: John Smith') -> BIO tags over the tagger's words (each entity at its
    first occurrence whose ends are word boundaries); one the words cannot hold (its text is not there) is
    appended as a span of its own, which the prediction (O) misses, so it still counts as a gold entity."""
    tags, extra = ["O"] * len(words), []
    starts = {w.start: i for i, w in enumerate(words)}
    ends = {w.end: i for i, w in enumerate(words)}
    for kind, entity in sorted(entities, key=lambda e: -len(e[1])):
        at, placed = text.find(entity), False
        while at >= 0 and not placed:
            a, b = starts.get(at), ends.get(at + len(entity))
            if a is not None and b is not None and b >= a and all(t == "O" for t in tags[a:b + 1]):
                tags[a:b + 1] = [f"B-{kind}"] + [f"I-{kind}"] * (b - a)
                placed = True
            at = text.find(entity, at + 1)
        if not placed:
            extra.append(f"B-{kind}")
    return tags + extra


# ---------- question answering ----------

def _qa_rows(path) -> tuple[list[tuple[str, str, list[str] | None]], list[str]]:
    df = readers.read_columns(QA_SAMPLE if path is None else path, {"question": (), "context": ()}, {"answer": ()})
    if path is None:
        df = df.head(SAMPLE_ROWS // 4)
    notices = []
    if len(df) > MAX_ROWS["qa"]:
        notices.append(f"The file has {len(df):,} rows; the first {MAX_ROWS['qa']} are run.")
        df = df.head(MAX_ROWS["qa"])
    has_answer = "answer" in df
    rows = [(r["question"].strip(), r["context"].strip(),
             [a.strip() for a in r["answer"].split(" | ") if a.strip()] or None if has_answer else None)
            for _, r in df.iterrows()]
    rows = [r for r in rows if r[0] and r[1]]
    if path is None:
        notices.append(f"No file given: {len(rows)} questions of the built-in SQuAD sample (dev half A).")
    return rows, notices


def _qa(path, model, progress):
    from torchmetrics.functional.text import squad

    items, notices = _qa_rows(path)
    rows, words, ems, f1s = [], defaultdict(list), [], []
    for i, (question, context, answers) in enumerate(items):
        shown = qa.predict(question, context, model, top_n=1)
        text = shown.answer.text if shown.answer else ""
        row = {"answer": text, "score": round(float(shown.answer.score), 3) if shown.answer else None,
               "gold": " | ".join(answers or []), "exact_match": None, "f1": None, "supports": "", "against": "",
               "question": question, "context": context[:300] + ("…" if len(context) > 300 else "")}
        if shown.nbest:  # the answer's start logit, over the context words of its window
            att = captum_views.explain_qa(question, context, "start", captum_views.GRADIENT_X_INPUT, model).attribution
            row["supports"], row["against"], scored = _for_and_against(att)
            _add_words(words, scored)
        if answers:
            s = squad([{"prediction_text": text, "id": str(i)}],
                      [{"answers": {"answer_start": [0] * len(answers), "text": answers}, "id": str(i)}])
            row["exact_match"], row["f1"] = round(float(s["exact_match"]), 2), round(float(s["f1"]), 2)
            ems.append(row["exact_match"])
            f1s.append(row["f1"])
        rows.append(row)
        _progress(progress, i, len(items))
    per_label = [{"label": "all", "rows": len(ems), "exact_match": round(sum(ems) / len(ems), 2),
                  "f1": round(sum(f1s) / len(f1s), 2)}] if ems else []
    return rows, per_label, words, notices


def _progress(progress, i: int, n: int) -> None:
    if progress:
        progress((i + 1) / n, f"Row {i + 1} of {n}")


RUNNERS = {"sentiment": _sentiment, "entities": _entities, "qa": _qa}
DEFAULT_MODELS = {"sentiment": "embedded-movies", "entities": "embedded-ner", "qa": qa.DEFAULT_MODEL}


def run_batch(path: str | None, model: str | None = None, task: str = "sentiment",
              progress: Callable[[float, str], None] | None = None) -> BatchResult:
    if task not in RUNNERS:
        raise InputError(f"Unknown batch task '{task}'; choose one of {', '.join(TASKS)}.")
    if model is not None and model not in models_for(task):
        raise InputError(f"{model} is not a model for {task}; choose one of {', '.join(models_for(task))}.")
    rows, per_label, words, notices = RUNNERS[task](path, model or DEFAULT_MODELS[task], progress)
    if not rows:
        raise InputError("The file has no rows with text.")
    return BatchResult(task, rows, per_label, _influential(words), notices)


def models_for(task: str) -> list[str]:
    """The models a batch task can run (the registry's capabilities): the masked LMs (sentiment), the entity
    taggers, the QA models."""
    return [c.name for c in registry.for_view(f"batch-{task}")]
