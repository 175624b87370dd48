"""What every attribution view shares: a per-word result shown as signed scores in [-1, 1] (positive = supports
the prediction), and the answer the QA tab shows, located in its window, so that an explanation explains
exactly that answer. The methods themselves are Captum's (models/inside/captum_views.py); the hand-written
occlusion and gradient x input this module held before were retired in favour of them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import qa
from models.errors import InputError


@dataclass
class Attribution:
    method: str
    target: str  # what the scores explain (label, or answer)
    target_score: float
    spans: list[tuple[str, float | None]]  # (text, score) in reading order; gaps have None

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        scored = [(t, s) for t, s in self.spans if s is not None]
        return sorted(scored, key=lambda p: -abs(p[1]))[:k]


def _spans(text: str, words: list[tuple[int, int]], scores: np.ndarray) -> list[tuple[str, float | None]]:
    """Interleave words (with normalised scores) and the text between them."""
    peak = float(np.abs(scores).max()) or 1.0
    out, pos = [], 0
    for (a, b), s in zip(words, scores):
        if a > pos:
            out.append((text[pos:a], None))
        out.append((text[a:b], round(float(s) / peak, 4)))
        pos = b
    if pos < len(text):
        out.append((text[pos:], None))
    return out


@dataclass
class ShownAnswer:
    """The answer the QA tab shows, in the window it came from: what every QA attribution explains."""
    model: object  # the loaded QA model
    inputs: object  # qa.preprocess's result
    answer: object  # the n-best's first span
    offsets: list[tuple[int, int]]  # of the window's tokens
    is_context: list[bool]
    start: int  # token index of the answer's first token in the window
    end: int
    batch: dict  # the window as model inputs


def shown_answer(question: str, context: str, model: str, max_answer_len: int) -> ShownAnswer:
    """The same preprocessing as the tab (window size, stride), the same answer (the n-best's first span, even
    when the null answer wins), and the token positions of its start and end in its window."""
    m = qa.load(model)
    inputs = qa.preprocess(question, context, m, top_n=1, max_answer_len=max_answer_len)
    shown = qa.answer(m, inputs, top_n=1, max_answer_len=max_answer_len)  # what qa.predict returns
    if not shown.nbest:
        raise InputError("The model found no answer span in the context to explain.")
    ans = shown.nbest[0]
    w = ans.window
    offsets = [tuple(o) for o in inputs.enc["offset_mapping"][w]]
    is_ctx = inputs.is_context(w)
    s = next(i for i in range(len(offsets)) if is_ctx[i] and offsets[i][0] == ans.start)
    e = next(i for i in range(len(offsets)) if is_ctx[i] and offsets[i][1] == ans.end and i >= s)
    return ShownAnswer(m, inputs, ans, offsets, is_ctx, s, e, inputs.batch(m, [w]))
