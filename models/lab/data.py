"""The lab's tasks as labelled rows: a training set of the size asked for and a fixed development set."""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from models import readers
from models.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
# SST-2 prepared by `python -m recipes.prepare_corpora` (training pool; held-out rows never trained on), else
# the 300-row sample that ships with the app
SST2_POOL, SST2_DEV = ROOT / "data/corpora/sst2-pool.tsv", ROOT / "data/corpora/sst2-heldout.tsv"
SST2_SAMPLE = ROOT / "samples/sst2-300.tsv"
TASKS = ("sst2", "conll2003", "chnsenticorp", "upload")
SENTENCE, TOKENS = "sentence", "tokens"  # what a task labels: whole texts, or each word
TASK_KINDS = {"sst2": (SENTENCE, "minilm"), "conll2003": (TOKENS, "minilm"), "chnsenticorp": (SENTENCE, "zh-fused"),
              "upload": (SENTENCE, "minilm")}  # task -> (what it labels, the encoder it adapts)
MIN_UPLOAD_ROWS, MAX_LABELS = 20, 20


@dataclass
class TaskData:
    """Rows of (text, label index) for a sentence task; of (words, tag indices) for a token task."""
    task: str
    labels: list[str]
    train: list[tuple]
    dev: list[tuple]
    source: str
    kind: str = SENTENCE
    encoder: str = "minilm"  # the pre-trained encoder the strategies adapt (models/lab/encoders.py)
    max_len: int = 64  # pieces per text

    @property
    def metric_name(self) -> str:
        return "entity F1" if self.kind == TOKENS else "accuracy"


def load_task(task: str = "sst2", examples: int = 2000, seed: int = 0, dev_size: int = 500,
              upload: str | Path | None = None) -> TaskData:
    """`examples` training rows drawn with `seed`, and the first `dev_size` development rows (always the same).
    `upload`: the path of a CSV / TSV with a text and a label column (task "upload")."""
    if task == "upload":
        return load_upload(upload, examples, seed, dev_size)
    if task == "conll2003":
        return load_conll(examples, seed, dev_size)
    if task == "chnsenticorp":
        return load_chnsenticorp(examples, seed, dev_size)
    if task not in TASKS:
        raise InputError(f"Unknown lab task '{task}'; choose one of {', '.join(TASKS)}.")
    if examples < 2:
        raise InputError("Train on at least 2 examples.")
    if SST2_POOL.is_file() and SST2_DEV.is_file():
        pool, dev = readers.read_labelled_tsv(SST2_POOL), readers.read_labelled_tsv(SST2_DEV)[:dev_size]
        source = f"SST-2: {min(examples, len(pool)):,} of {len(pool):,} training rows, {len(dev)} held-out rows"
    else:  # a Space, or a machine without the shared data: the shipped sample, split
        rows = readers.read_labelled_tsv(SST2_SAMPLE)
        dev, pool = rows[:100], rows[100:]
        source = f"SST-2 sample: {min(examples, len(pool))} training rows, {len(dev)} development rows"
    labels = sorted({label for _, label in pool})
    train = random.Random(seed).sample(pool, min(examples, len(pool)))
    index = {label: i for i, label in enumerate(labels)}
    return TaskData(task, labels, [(t, index[l]) for t, l in train], [(t, index[l]) for t, l in dev], source)


CHNSENTICORP = ROOT.parent / "shared" / "data" / "chnsenticorp"


def load_chnsenticorp(examples: int = 2000, seed: int = 0, dev_size: int = 500) -> TaskData:
    """ChnSentiCorp hotel / product / book reviews on the mini ChineseBERT (glyph + pinyin fusion): `examples`
    training reviews drawn with `seed`, the first `dev_size` of its dev file, 128 characters each."""
    if not (CHNSENTICORP / "train.tsv").is_file():
        raise InputError("ChnSentiCorp is not on this machine (../shared/data/chnsenticorp); this task needs it. "
                         "SST-2, CoNLL-2003 and your own file still work.")
    if examples < 2:
        raise InputError("Train on at least 2 examples.")
    pool = [r for r in readers.read_chnsenticorp(CHNSENTICORP / "train.tsv") if r[0].strip()]
    dev = [r for r in readers.read_chnsenticorp(CHNSENTICORP / "dev.tsv") if r[0].strip()][:dev_size]
    train = random.Random(seed).sample(pool, min(examples, len(pool)))
    source = f"ChnSentiCorp: {len(train):,} of {len(pool):,} training reviews, {len(dev)} dev reviews"
    return TaskData("chnsenticorp", ["negative", "positive"], train, dev, source, SENTENCE, "zh-fused", 128)


def without_heldout_phrases(rows: list[tuple[str, int]], min_words: int = 3) -> tuple[list[tuple[str, int]], int]:
    """SST-2's training file holds the phrases of its sentences as rows of their own, so a held-out sentence's
    phrases sit in the pool: a model trained on them has seen parts of the test. Drops every row of at least
    `min_words` words found inside a held-out sentence; returns the rest and how many were dropped."""
    if not SST2_DEV.is_file():
        return rows, 0
    held = " \n ".join(t.lower() for t, _ in readers.read_labelled_tsv(SST2_DEV))
    kept = [(t, l) for t, l in rows if len(t.split()) < min_words or t.lower().strip() not in held]
    return kept, len(rows) - len(kept)


def load_upload(path, examples: int = 2000, seed: int = 0, dev_size: int = 500) -> TaskData:
    """A visitor's own labelled file: a text and a label column (found by name), at least two classes. One
    row in five (at most `dev_size`) is held out as the development set, the same rows for every seed."""
    if path is None:
        raise InputError("Upload a CSV or TSV file with a text column and a label column for this task.")
    _check_utf8(path)
    df = readers.read_columns(path, {"text": ("sentence", "review", "content"), "label": ("labels", "class", "category")})
    rows = [(t.strip(), str(l).strip()) for t, l in zip(df["text"], df["label"]) if str(t).strip() and str(l).strip()]
    if len(rows) < MIN_UPLOAD_ROWS:
        raise InputError(f"The file has {len(rows)} rows with both a text and a label; the lab needs at least "
                         f"{MIN_UPLOAD_ROWS} (a fifth of them become the development set).")
    labels = sorted({l for _, l in rows})
    if len(labels) < 2:
        raise InputError(f"Every row has the label '{labels[0]}': a classifier needs at least two classes.")
    if len(labels) > MAX_LABELS:
        raise InputError(f"The label column has {len(labels)} different values (at most {MAX_LABELS}); is it the "
                         f"right column? First values: {', '.join(labels[:5])}.")
    mixed = rows[:]
    random.Random(12345).shuffle(mixed)  # a fixed dev split, whatever the seed
    n_dev = min(dev_size, max(1, len(mixed) // 5))
    dev, pool = mixed[:n_dev], mixed[n_dev:]
    train = random.Random(seed).sample(pool, min(examples, len(pool)))
    index = {label: i for i, label in enumerate(labels)}
    source = (f"uploaded file: {len(train)} training rows, {len(dev)} development rows, {len(labels)} labels "
              f"({', '.join(labels[:6])}{', ...' if len(labels) > 6 else ''})")
    return TaskData("upload", labels, [(t, index[l]) for t, l in train], [(t, index[l]) for t, l in dev], source)


def _check_utf8(path) -> None:
    path = Path(path if isinstance(path, (str, Path)) else path.name)
    if path.is_file() and path.stat().st_size <= readers.MAX_UPLOAD_BYTES:
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"The file is not UTF-8 text (byte {exc.start:,} cannot be read); save it as UTF-8 "
                             f"and upload it again.") from None


# CoNLL-2003 entities: the lab's token task and multi-task's second task (the shared data's files where they
# are, else the 100-sentence sample that ships with the app)
CONLL_TRAIN = ROOT.parent / "shared" / "data" / "conll2003" / "eng.train"
CONLL_DEV = ROOT.parent / "shared" / "data" / "conll2003" / "eng.testa"
CONLL_SAMPLE = ROOT / "samples" / "conll2003-testa-100.txt"


def load_conll(examples: int = 1000, seed: int = 0, dev_size: int = 500) -> TaskData:
    """`examples` CoNLL-2003 training sentences drawn with `seed`; the first `dev_size` sentences of its
    development file (eng.testa), the split the shipped tagger reports. Tags in BIO form."""
    if examples < 2:
        raise InputError("Train on at least 2 sentences.")
    if CONLL_TRAIN.is_file() and CONLL_DEV.is_file():
        pool, dev = readers.read_conll(CONLL_TRAIN), readers.read_conll(CONLL_DEV)[:dev_size]
        source = f"CoNLL-2003: {min(examples, len(pool)):,} of {len(pool):,} training sentences, {len(dev)} eng.testa sentences"
    else:  # a Space: the shipped sample, split
        rows = readers.read_conll(CONLL_SAMPLE)
        dev, pool = rows[:40], rows[40:]
        source = f"CoNLL-2003 sample: {min(examples, len(pool))} training sentences, {len(dev)} development sentences"
    pool, dev = [s for s in pool if s[0]], [s for s in dev if s[0]]
    labels = sorted({t for _, tags in pool + dev for t in tags})
    index = {l: i for i, l in enumerate(labels)}
    train = random.Random(seed).sample(pool, min(examples, len(pool)))
    return TaskData("conll2003", labels, [(w, [index[t] for t in tags]) for w, tags in train],
                    [(w, [index[t] for t in tags]) for w, tags in dev], source, TOKENS)


def ner_sentences(limit: int = 2000) -> tuple[list[tuple[list[str], list[str]]], list[str]]:
    """(words, BIO tags) of up to `limit` CoNLL-2003 sentences, and the tag set in a fixed order."""
    path = CONLL_TRAIN if CONLL_TRAIN.is_file() else CONLL_SAMPLE
    sents = [s for s in readers.read_conll(path) if s[0]][:limit]
    return sents, sorted({t for _, tags in sents for t in tags})
