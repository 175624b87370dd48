"""Batch mode: a CSV/TSV of texts (optionally labelled) through the prompt tab's sentiment classifier, with
each row's attribution (word occlusion, the "Attribution" view's method), an aggregate (accuracy per label
where labels are given; the words that moved predictions most over the whole file) and a result file.

Rows are classified in one batched pass; attributions run row by row (one batched pass per row), reporting
progress, so a long file can be cancelled from the UI between rows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

from models import fill_mask, prompt_cls
from models.errors import InputError
from models.inside import attribution, projector

MAX_ROWS = 200
SAMPLE_ROWS = 40  # the built-in sample (SST-2 snippets) when no file is given
NAMES = {"0": "negative", "1": "positive"}


@dataclass
class BatchResult:
    rows: list[dict]  # text, predicted, confidence, label, correct, supports, against
    per_label: list[dict]  # label, rows, accuracy
    influential: list[dict]  # word, rows, total score towards the predictions, mean
    notices: list[str] = field(default_factory=list)


def read_rows(path: str | None) -> tuple[list[str], list[str] | None, list[str]]:
    if path is None:
        texts, labels, notes = projector.read_table(projector.SAMPLE, max_rows=SAMPLE_ROWS, sample=False)
        return texts, labels, [f"No file given: the first {SAMPLE_ROWS} rows of the built-in SST-2 sample."]
    texts, labels, notes = projector.read_table(path, max_rows=MAX_ROWS, sample=False)
    if labels is not None:  # SST-2's 0/1 by name, whatever else the column holds
        labels = [NAMES.get(x, x) for x in labels]
    return texts, labels, notes


def run_batch(path: str | None, model: str = fill_mask.DEFAULT_MODEL, preset: str = prompt_cls.SST2_PRESET,
              progress: Callable[[float, str], None] | None = None) -> BatchResult:
    texts, labels, notices = read_rows(path)
    if not texts:
        raise InputError("The file has no rows with text.")
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[preset])
    if labels is not None:
        unknown = sorted(set(labels) - set(spec.labels))
        if unknown:
            notices.append(f"Labels not in the preset ({', '.join(unknown[:5])}) are left out of the accuracy.")
    rows, words = [], defaultdict(list)
    for i, text in enumerate(texts):
        att = attribution.classification_occlusion(text, spec, model)  # the label the tab predicts, explained
        scored = sorted(((w, s) for w, s in att.spans if s is not None), key=lambda p: -p[1])
        gold = labels[i] if labels is not None else ""
        rows.append({"predicted": att.target, "confidence": att.target_score, "label": gold,
                     "correct": (att.target == gold) if gold in spec.labels else None,
                     "supports": ", ".join(w for w, s in scored[:3] if s > 0),
                     "against": ", ".join(w for w, s in reversed(scored[-3:]) if s < 0), "text": text})
        for w, s in scored:
            key = w.lower().strip(".,!?;:\"'()")
            if key:
                words[key].append(s)
        if progress:
            progress((i + 1) / len(texts), f"Row {i + 1} of {len(texts)}")
    per_label = []
    for lab in spec.labels:
        mine = [r for r in rows if r["label"] == lab]
        if mine:
            per_label.append({"label": lab, "rows": len(mine),
                              "accuracy": round(sum(bool(r["correct"]) for r in mine) / len(mine), 4)})
    scored_rows = [r for r in rows if r["correct"] is not None]
    if scored_rows:
        per_label.append({"label": "all", "rows": len(scored_rows),
                          "accuracy": round(sum(bool(r["correct"]) for r in scored_rows) / len(scored_rows), 4)})
    influential = sorted(({"word": w, "rows": len(s), "total": round(sum(s), 3), "mean": round(sum(s) / len(s), 3)}
                          for w, s in words.items()), key=lambda d: -abs(d["total"]))[:15]
    return BatchResult(rows, per_label, influential, notices)
