"""Sequence tagging (NER, POS): word labels from sub-word predictions, and entity spans.

Words are the tokenizer's pre-tokens (whitespace and punctuation split; one per character
for Chinese). A word's label comes from its sub-tokens by the chosen aggregation:
  first    the first sub-token's distribution (how the taggers are trained)
  average  the mean of its sub-tokens' distributions
  max      the distribution of the sub-token with the most confident label
BIO and IOB1 label sequences are both decoded: an entity starts at B-X, or at I-X after a
label of another type.
"""
from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from models.chinese.inputs import is_cjk
from models import batching, precision
from models.errors import InputError
from models import registry
from models.task_model import TaskModel, load_task_model
from models.trace import Trace
from models.text_checks import clean_text, language_notice, script_check

TASK = "tagging"
DEFAULT_MODEL = registry.default(TASK)
AGGREGATIONS = ("first", "average", "max")
BATCH = 16


class Tagger(TaskModel):
    """A loaded token classifier (name, model, tokenizer, checkpoint, meta); labels from its config."""

    @functools.cached_property  # read for every word tagged: built once
    def id2label(self) -> dict[int, str]:
        return {int(k): v for k, v in self.model.config.id2label.items()}


@dataclass
class WordTag:
    word: str
    start: int
    end: int
    label: str
    score: float


@dataclass
class Entity:
    label: str  # type without the B-/I- prefix
    text: str
    start: int
    end: int
    score: float  # mean word confidence


@dataclass
class TaggingResult:
    model: str
    text: str
    words: list[WordTag]
    entities: list[Entity]
    aggregation: str
    notices: list[str]
    seconds: float
    trace: Trace | None = None  # the sequences the model ran (what the "Look inside" views read)

    def highlighted(self) -> list[dict]:
        """gr.HighlightedText entity dicts: entities for NER-style labels, every word for POS."""
        if any(w.label[:2] in ("B-", "I-", "E-", "S-") for w in self.words):
            return [{"entity": e.label, "start": e.start, "end": e.end, "score": e.score} for e in self.entities]
        return [{"entity": w.label, "start": w.start, "end": w.end, "score": w.score} for w in self.words]

    def to_dict(self) -> dict:
        return {"model": self.model, "aggregation": self.aggregation, "notices": self.notices,
                "words": [vars(w) for w in self.words], "entities": [vars(e) for e in self.entities]}



def load(name: str = DEFAULT_MODEL) -> Tagger:
    from transformers import AutoModelForTokenClassification, BertForTokenClassification

    return load_task_model(TASK, name, Tagger, BertForTokenClassification, AutoModelForTokenClassification)


def aggregate(probs: np.ndarray, how: str) -> np.ndarray:
    """One distribution for a word from its sub-tokens' distributions [n_sub, n_labels]."""
    if how == "first":
        return probs[0]
    if how == "average":
        return probs.mean(0)
    if how == "max":
        return probs[probs.max(-1).argmax()]
    raise InputError(f"Unknown aggregation '{how}'; choose one of {', '.join(AGGREGATIONS)}.")


def decode_entities(words: list[WordTag], text: str) -> list[Entity]:
    """Entity spans from BIO or IOB1 word labels."""
    entities, cur = [], None
    for w in words:
        prefix, _, kind = w.label.partition("-") if "-" in w.label else ("O", "", "")
        starts_new = prefix in ("B", "S") or (prefix in ("I", "E") and (cur is None or cur["label"] != kind))
        if prefix == "O" or starts_new:
            if cur:
                entities.append(cur)
            cur = None
        if prefix != "O":
            if cur is None:
                cur = {"label": kind, "start": w.start, "end": w.end, "scores": [w.score]}
            else:
                cur["end"], _ = w.end, cur["scores"].append(w.score)
    if cur:
        entities.append(cur)
    return [Entity(e["label"], text[e["start"]:e["end"]], e["start"], e["end"], round(float(np.mean(e["scores"])), 4))
            for e in entities]


_ABBREVIATION = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}")  # U.K., U.S.A., e.g. -- one word, as in CoNLL


_CLITICS = {"s", "re", "ve", "ll", "d", "m"}


def _join_contractions(pre: list, text: str) -> list:
    """English contractions as the treebanks the taggers were trained on split them (UD EWT, CoNLL):
    can't -> ca + n't, she's -> she + 's (BERT's pre-tokenizer gave can / ' / t)."""
    out, i = [], 0
    while i < len(pre):
        w, (a, b) = pre[i]
        if i + 2 < len(pre) and pre[i + 1][0] in ("'", "\u2019") and pre[i + 1][1][0] == b \
                and pre[i + 2][1][0] == b + 1 and w.isalpha():
            x, (_, c) = pre[i + 2]
            if x.lower() == "t" and w.lower().endswith("n") and len(w) > 1:
                out += [(text[a:b - 1], (a, b - 1)), (text[b - 1:c], (b - 1, c))]
                i += 3
                continue
            if x.lower() in _CLITICS:
                out += [(w, (a, b)), (text[b:c], (b, c))]
                i += 3
                continue
        out.append(pre[i])
        i += 1
    return out


def split_words(tokenizer, text: str) -> list[tuple[str, int, int]]:
    """The tokenizer's pre-tokens (word, start, end) on the raw text; CJK characters are one word each,
    as BERT's normaliser makes them; dotted abbreviations stay one word; contractions split as in the
    treebanks (ca + n't, she + 's)."""
    pre = tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
    for m in reversed(list(_ABBREVIATION.finditer(text))):
        inside = [i for i, (_, (a, b)) in enumerate(pre) if a >= m.start() and b <= m.end()]
        if len(inside) > 1:
            pre[inside[0]:inside[-1] + 1] = [(m.group(), (m.start(), m.end()))]
    pre = _join_contractions(pre, text)
    words = []
    for w, (a, b) in pre:
        if any(is_cjk(c) for c in w):
            run = a
            for i, c in enumerate(w):
                if is_cjk(c):
                    if run < a + i:
                        words.append((text[run:a + i], run, a + i))
                    words.append((c, a + i, a + i + 1))
                    run = a + i + 1
            if run < b:
                words.append((text[run:b], run, b))
        else:
            words.append((w, a, b))
    return words


def _chunks(word_token_counts: list[int], size: int) -> list[tuple[int, int]]:
    """Split words into consecutive [start, end) groups of at most `size` sub-tokens."""
    out, start, used = [], 0, 0
    for i, n in enumerate(word_token_counts):
        n = min(n, size)
        if used + n > size:
            out.append((start, i))
            start, used = i, 0
        used += n
    out.append((start, len(word_token_counts)))
    return out


def word_pieces(tokenizer, words: list[str], size: int | None = None) -> list[list[int]]:
    """Each word's sub-token ids, every word encoded on its own as the taggers were trained (a word with no
    piece -> [UNK]; a word longer than `size` pieces is cut). The one word -> sub-token encoder of tagging:
    the tab, the views, attribution and head importance all read words through it."""
    ids = tokenizer(list(words), add_special_tokens=False)["input_ids"] if words else []
    return [(p[:size] if size else p) or [tokenizer.unk_token_id] for p in ids]


def chunk_rows(tokenizer, pieces: list[list[int]], size: int) -> list[tuple[int, int, list[int]]]:
    """Words' pieces cut at word boundaries into the sequences the model reads: (first word, end word,
    [CLS] + their pieces + [SEP]). What tag_word_lists runs and what the trace records."""
    return [(s, e, [tokenizer.cls_token_id] + [t for p in pieces[s:e] for t in p] + [tokenizer.sep_token_id])
            for s, e in _chunks([len(p) for p in pieces], size)]


def trace(tg: Tagger, words: list[str], pieces: list[list[int]] | None = None) -> Trace:
    """Every sequence the model reads for these words (`pieces`: their word_pieces, when already encoded), and
    which words each covers."""
    size = tg.max_tokens - 2
    pieces = pieces if pieces is not None else word_pieces(tg.tokenizer, words, size)
    rows = chunk_rows(tg.tokenizer, pieces, size)
    return Trace(TASK, tg.name, [r for _, _, r in rows], tg.tokenizer.convert_ids_to_tokens(rows[0][2]),
                 spans=[(s, e) for s, e, _ in rows])


def view_trace(tg: Tagger, text: str) -> Trace:
    """The trace for `text` as the tab splits it into words, for the "Look inside" views (they draw the first
    sequence)."""
    text, notices = clean_text(text)
    words = [w for w, _, _ in split_words(tg.tokenizer, text)]
    if not words:
        raise InputError("The text has no words to tag.")
    t = trace(tg, words)
    t.notices = notices
    if len(t.windows) > 1:
        end = t.spans[0][1]
        t.notices.append(f"The text is longer than one {tg.max_tokens - 2}-token window: the tagging tab reads it "
                         f"in pieces; this view shows the first ({end} of {len(words)} words).")
    return t


@torch.no_grad()
def tag_word_lists(tg: Tagger, word_lists: list[list[str]], aggregation: str = "first",
                   progress: Callable[[float, str], None] | None = None,
                   batch_size: int = BATCH,
                   encoded: list[list[list[int]]] | None = None) -> tuple[list[list[np.ndarray]], int]:
    """Label distributions for every word of every list, many sequences per forward pass.

    Lists longer than the model window are cut into chunks at word boundaries. `encoded`: each list's
    word_pieces when the caller already has them (predict's trace), so words are not encoded twice.
    Returns (per list, per word distributions) and the number of sequences run.
    """
    if aggregation not in AGGREGATIONS:
        raise InputError(f"Unknown aggregation '{aggregation}'; choose one of {', '.join(AGGREGATIONS)}.")
    tok = tg.tokenizer
    size = tg.max_tokens - 2
    pieces, seqs = [], []  # seqs: (list index, first word, end word, ids)
    for i, words in enumerate(word_lists):
        ids = encoded[i] if encoded is not None else word_pieces(tok, words, size)
        pieces.append(ids)
        if words:
            seqs += [(i, s, e, row) for s, e, row in chunk_rows(tok, ids, size)]
    # batch sequences of similar length together (less padding), then put results back in order
    lengths = [len(row) for *_, row in seqs]
    order = sorted(range(len(seqs)), key=lengths.__getitem__)
    per_seq: list[list[np.ndarray]] = [[] for _ in seqs]
    for b in range(0, len(order), batch_size):
        batch = order[b:b + batch_size]
        rows = [seqs[k][3] for k in batch]
        x = torch.full((len(rows), max(map(len, rows))), tok.pad_token_id, dtype=torch.long)
        for j, r in enumerate(rows):
            x[j, :len(r)] = torch.tensor(r)
        with precision.autocast("tagging"):  # bf16 where the CPU has it (benchmarks/bench_precision.py)
            logits = tg.model(input_ids=x, attention_mask=(x != tok.pad_token_id).long()).logits
        probs = logits.float().softmax(-1).numpy()
        for j, k in enumerate(batch):
            i, s, e, _ = seqs[k]
            pos = 1
            for p in pieces[i][s:e]:
                per_seq[k].append(aggregate(probs[j, pos:pos + len(p)], aggregation))
                pos += len(p)
        if progress:
            progress(min(1.0, (b + batch_size) / len(order)), "Tagging")
    out: list[list[np.ndarray]] = [[] for _ in word_lists]
    for k, (i, *_) in enumerate(seqs):  # seqs are in list order, chunks of a list in word order
        out[i] += per_seq[k]
    return out, len(seqs)


def labels_of(tg: Tagger, dists: list[np.ndarray]) -> list[tuple[str, float]]:
    return [(tg.id2label[int(p.argmax())], round(float(p.max()), 4)) for p in dists]


def predict(text: str, model: "str | Tagger" = DEFAULT_MODEL, aggregation: str = "first",
            progress: Callable[[float, str], None] | None = None) -> TaggingResult:
    t0 = time.perf_counter()
    text, notices = clean_text(text)
    if aggregation not in AGGREGATIONS:
        raise InputError(f"Unknown aggregation '{aggregation}'; choose one of {', '.join(AGGREGATIONS)}.")
    tg = model if isinstance(model, Tagger) else load(model)
    t0 = time.perf_counter()  # time the prediction, not the one-off load
    notices += script_check(text, tg.checkpoint.languages) or language_notice(text, tg.checkpoint.languages)
    words = split_words(tg.tokenizer, text)
    if not words:
        raise InputError("The text has no words to tag.")
    plain = [w for w, _, _ in words]
    pieces = word_pieces(tg.tokenizer, plain, tg.max_tokens - 2)  # once: for the trace and the passes
    ran = trace(tg, plain, pieces)
    n_seq = len(ran.windows)
    if progress is not None and n_seq > 1:  # a long text: its own passes, with progress
        (dists,), _ = tag_word_lists(tg, [plain], aggregation, progress, encoded=[pieces])
    else:  # concurrent requests for this model share passes (models/batching.py)
        dists = batching.batcher(TASK, tg.name, aggregation).run(
            (plain, pieces), lambda items: tag_word_lists(tg, [w for w, _ in items], aggregation,
                                                          encoded=[p for _, p in items])[0])
    if n_seq > 1:
        notices.append(f"The text is longer than one {tg.max_tokens - 2}-token window: "
                       f"it was tagged in {n_seq} chunks.")
    tags = [WordTag(w, a, b, label, score) for (w, a, b), (label, score) in zip(words, labels_of(tg, dists))]
    return TaggingResult(tg.name, text, tags, decode_entities(tags, text), aggregation, notices,
                         round(time.perf_counter() - t0, 4), ran)


# ---- data sets and scoring (shared by the recipe, the eval CLI and the tests) ----

def layer_probe_results() -> dict[str, dict]:
    """task -> {"metric", "rows": [{"layer", "metric"}]} from the shipped layer-probe files
    (written by `recipes/train_tagger.py --probe`); tasks without a file are left out."""
    import json

    from models import embedded

    out = {}
    for task in ("upos", "ner"):
        path = embedded.WEIGHTS_DIR / f"layer-probe-{task}.json"
        if path.is_file():
            out[task] = json.loads(path.read_text())
    return out
