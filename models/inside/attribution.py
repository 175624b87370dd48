"""Token attribution, shown per word as a signed score in [-1, 1] (positive = supports the prediction).

Classification (the prompt tab's cloze classifier, uncalibrated as the tab's default): occlusion. Each word is dropped in turn and the
drop in the predicted label's probability is the word's score; all variants run as one batch.
QA: gradient x input. The gradient of the answer's start + end logit with respect to the input
embeddings, dotted with those embeddings, summed over a word's sub-tokens; computed on the window the
QA tab's answer came from, through the QA module's own preprocess / forward steps. We chose these two
hand-written methods over captum: each is a few lines on top of the tab's own model code, and
captum adds a dependency for no gain here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from models import prompt_cls, qa
from models.chinese_inputs import is_cjk
from models.errors import InputError
from models.text_checks import clean_text

MAX_OCCLUSION_WORDS = 200  # one forward pass per word


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


def classification_occlusion(text: str, spec: prompt_cls.PromptSpec, model: str = "embedded-general",
                             calibrate: bool = False) -> Attribution:
    text, _ = clean_text(text)
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    if len(words) > MAX_OCCLUSION_WORDS:
        raise InputError(f"The text has {len(words)} words; occlusion runs one pass per word, so at most "
                         f"{MAX_OCCLUSION_WORDS} are explained. Shorten the text.")
    variants = [text] + [(text[:a] + text[b:]).strip() or prompt_cls.CONTENT_FREE for a, b in words]
    probs, _, _ = prompt_cls.label_probabilities(spec, variants, "cloze", model, calibrate=calibrate)
    label = int(probs[0].argmax())
    scores = probs[0, label] - probs[1:, label]
    return Attribution("occlusion", spec.labels[label], round(float(probs[0, label]), 4), _spans(text, words, scores))


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


def qa_gradient_x_input(question: str, context: str, model: str = qa.DEFAULT_MODEL,
                        max_answer_len: int = 30) -> Attribution:
    """Explain the answer the QA tab shows (see shown_answer) by gradient x input."""
    sa = shown_answer(question, context, model, max_answer_len)
    emb = sa.model.model.get_input_embeddings()(sa.batch["input_ids"]).detach().requires_grad_(True)
    with torch.enable_grad():
        start, end = (x[0] for x in qa.forward(sa.model, sa.batch, inputs_embeds=emb))
        (start[sa.start] + end[sa.end]).backward()
    per_token = (emb.grad[0] * emb[0]).sum(-1).detach().float().numpy()
    # sum sub-tokens into words (word = maximal run of tokens with touching offsets or one whitespace word;
    # a Chinese character is a word of its own, as the tokenizer splits them)
    words, scores = [], []
    text = sa.inputs.context
    for i in np.flatnonzero(sa.is_context):
        a, b = sa.offsets[i]
        if words and a == words[-1][1] and not (is_cjk(text[a]) or is_cjk(text[a - 1])):
            words[-1] = (words[-1][0], b)
            scores[-1] += per_token[i]
        else:
            words.append((a, b))
            scores.append(per_token[i])
    target_score = float((start[sa.start] + end[sa.end]).detach())
    return Attribution("gradient x input", sa.answer.text, round(target_score, 3),
                       _spans(text, words, np.array(scores)))
