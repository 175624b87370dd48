"""Evaluation sets from the Hugging Face Hub through `datasets`, where the Hub is reachable.

`python -m models.eval squad hub:squad` reads SQuAD v1.1's validation split from the Hub; a local file path
works everywhere. Each Hub set is turned into exactly what the local reader of the same task returns, so the
scorers never know where their rows came from. Offline (or without `datasets`) the answer is one clear
InputError, never a traceback.
"""
from __future__ import annotations

from models.errors import InputError

# name -> (Hub dataset id, split, kind)
HUB_SETS = {
    "squad": ("rajpurkar/squad", "validation", "squad"),
    "conll2003": ("eriktks/conll2003", "validation", "conll"),
    "sst2": ("stanfordnlp/sst2", "validation", "labelled"),
    "imdb": ("stanfordnlp/imdb", "test", "labelled"),
}
PREFIX = "hub:"


def is_hub(data: str) -> bool:
    return str(data).startswith(PREFIX)


def load(data: str, kind: str):
    """Rows of `hub:NAME` in the format of the local reader for `kind` (squad / conll / labelled)."""
    name = str(data)[len(PREFIX):]
    if name not in HUB_SETS:
        raise InputError(f"Unknown Hub set '{name}'; choose one of {', '.join(PREFIX + n for n in HUB_SETS)}, "
                         f"or give a local file.")
    repo, split, own_kind = HUB_SETS[name]
    if own_kind != kind:
        raise InputError(f"{PREFIX}{name} is a {own_kind} set; this evaluation needs a {kind} set.")
    try:
        import datasets
    except ImportError:
        raise InputError("Reading Hub sets needs the `datasets` package (pip install -r requirements-dev.txt); "
                         "or give a local file.") from None
    try:
        ds = datasets.load_dataset(repo, split=split)
    except Exception as exc:  # offline, gated, renamed: one line, with the way out
        raise InputError(f"Could not load {repo} ({split}) from the Hub ({type(exc).__name__}); "
                         f"give a local file instead (see ../shared/data).") from None
    return CONVERT[kind](ds)


def squad_rows(ds) -> list[dict]:
    """SQuAD columns (id, title, context, question, answers{text, answer_start}) -> readers.read_squad rows."""
    titles = {}
    return [{"id": r["id"], "title": r["title"], "article": titles.setdefault(r["title"], len(titles)),
             "question": r["question"], "context": r["context"], "answers": list(r["answers"]["text"]),
             "answer_starts": list(r["answers"]["answer_start"])} for r in ds]


def conll_rows(ds) -> list[tuple[list[str], list[str]]]:
    """tokens + ner_tags (class ids, IOB2 names in the features) -> readers.read_conll's (words, BIO tags)."""
    names = ds.features["ner_tags"].feature.names
    return [(list(r["tokens"]), [names[t] for t in r["ner_tags"]]) for r in ds if r["tokens"]]


def labelled_rows(ds) -> list[tuple[str, str]]:
    """sentence/text + label 0/1 -> readers.read_labelled_tsv's (text, negative/positive)."""
    col = "sentence" if "sentence" in ds.column_names else "text"
    names = {0: "negative", 1: "positive"}
    return [(r[col].strip(), names[r["label"]]) for r in ds if r["label"] in names]


CONVERT = {"squad": squad_rows, "conll": conll_rows, "labelled": labelled_rows}
