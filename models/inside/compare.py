"""Compare two models on the same sentences: layer-by-layer representation similarity (linear CKA,
Kornblith et al., 2019) and a side-by-side diff of their predictions.

CKA needs the same rows for both models, and two tokenizers cut words differently, so each model's row for a
word is the hidden state of the word's first sub-token (as the tagging tab scores words). Every pair of layers
(embeddings = layer 0) gets one number in [0, 1]: 1 = the same representation up to rotation and scale.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from models import fill_mask, tagging
from models.errors import InputError
from models.inside import load

MAX_SENTENCES = 64
MAX_WORDS = 2000
WORD = re.compile(r"\[MASK\]|<mask>|\w+|[^\w\s]")
DEFAULT_SENTENCES = """Paris is the [MASK] of France.
The film was a complete waste of time.
Angela Merkel met Emmanuel Macron in Berlin on Tuesday.
The committee voted to approve the new budget after a long debate.
A small bakery on the corner sells fresh bread every morning.
The acting was superb and the plot kept me hooked until the end.
Rain fell over the city for three days, flooding the streets.
Shakespeare wrote Hamlet around 1600."""


@dataclass
class Comparison:
    model_a: str
    model_b: str
    cka: np.ndarray  # [layers_a + 1, layers_b + 1]
    n_words: int
    diff_kind: str  # "fill-mask", "tagging" or "" (no common prediction to diff)
    diff: list[dict]  # rows of the prediction diff
    notices: list[str]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two [n, d] representations of the same n rows (feature-space form, O(n d^2))."""
    x = x - x.mean(0, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else 0.0


def split_sentences(text: str) -> list[list[str]]:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        raise InputError("Give at least one sentence (one per line) to compare the models on.")
    if len(lines) > MAX_SENTENCES:
        raise InputError(f"At most {MAX_SENTENCES} sentences (got {len(lines)}).")
    words = [WORD.findall(line) for line in lines]
    if sum(map(len, words)) > MAX_WORDS:
        raise InputError(f"At most {MAX_WORDS} words in all (got {sum(map(len, words))}).")
    if sum(map(len, words)) < 3:
        raise InputError("CKA needs at least 3 words in all.")
    return words


@torch.no_grad()
def word_states(choice: str, sentences: list[list[str]]) -> tuple[list[np.ndarray], str]:
    """Per layer, the first-sub-token hidden state of every word of every sentence: [n_words, hidden]."""
    m = load(choice)
    mask = getattr(m.tokenizer, "mask_token", None) or "[MASK]"
    tok = m.tokenizer
    per_layer: list[list[np.ndarray]] = []
    for words in sentences:
        words = [mask if w in ("[MASK]", "<mask>") else w for w in words]
        pieces = tagging.word_pieces(tok, words)  # the product's one word -> sub-token encoder
        first = list(np.cumsum([1] + [len(p) for p in pieces[:-1]]))  # each word's first piece, after [CLS]
        ids = [tok.cls_token_id] + [t for p in pieces for t in p] + [tok.sep_token_id]
        if len(ids) > 512:
            raise InputError(f"A sentence is longer than {m.name} reads (512 tokens); shorten it.")
        enc = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        out = m.model(**enc, output_hidden_states=True)
        for layer, h in enumerate(out.hidden_states):
            if len(per_layer) <= layer:
                per_layer.append([])
            per_layer[layer].append(h[0, first].float().numpy())
    return [np.concatenate(rows) for rows in per_layer], m.task


def compare(text: str, choice_a: str, choice_b: str) -> Comparison:
    sentences = split_sentences(text)
    states_a, task_a = word_states(choice_a, sentences)
    states_b, task_b = word_states(choice_b, sentences)
    cka = np.array([[linear_cka(a, b) for b in states_b] for a in states_a])
    notices = []
    n_words = states_a[0].shape[0]
    if n_words < 50:
        notices.append(f"Only {n_words} words: CKA is noisy on so few rows (biased towards 1); use more sentences.")
    kind, diff = prediction_diff(text, sentences, choice_a, choice_b, task_a, task_b)
    if not kind:
        notices.append("No prediction diff: it needs two models of the same tab (fill-mask with a [MASK] in the first "
                       "line, or tagging).")
    return Comparison(choice_a, choice_b, cka, n_words, kind, diff, notices)


def prediction_diff(text: str, sentences, choice_a: str, choice_b: str, task_a: str, task_b: str) -> tuple[str, list[dict]]:
    name_a, name_b = load(choice_a).name, load(choice_b).name
    first = text.strip().splitlines()[0].strip()
    if task_a == task_b == "fill-mask" and ("[MASK]" in first or "<mask>" in first):
        ra, rb = fill_mask.predict(first, name_a, top_k=5), fill_mask.predict(first, name_b, top_k=5)
        rows = []
        for pa, pb in zip(ra.predictions, rb.predictions):
            for k, (ca, cb) in enumerate(zip(pa.candidates, pb.candidates)):
                rows.append({"mask": pa.index + 1, "rank": k + 1, "A": f"{ca.token} ({ca.score:.3f})",
                             "B": f"{cb.token} ({cb.score:.3f})", "same": ca.token == cb.token})
        return "fill-mask", rows
    if task_a == task_b == "tagging":
        rows = []
        for words in sentences[:8]:
            sent = " ".join(words)
            ta, tb = tagging.predict(sent, name_a), tagging.predict(sent, name_b)
            for wa, wb in zip(ta.words, tb.words):
                rows.append({"word": wa.word, "A": wa.label, "B": wb.label, "same": wa.label == wb.label})
        return "tagging", rows
    return "", []
