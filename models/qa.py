"""Extractive QA (SQuAD-style span extraction) with the start/end logits exposed.

transformers 5 has no question-answering pipeline, so the span search is done here:
long contexts are cut into overlapping windows (doc stride) run as one batch, candidate
spans (start <= end, length <= max_answer_len, inside the context) are scored as
start_logit + end_logit and merged across windows; a SQuAD 2.0-style "no answer" wins when
the null ([CLS]) score beats the best span by more than `null_threshold`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from models import batching, precision
from models.errors import InputError
from models import registry
from models.task_model import TaskModel, load_task_model
from models.text_checks import clean_text, language_notice, script_check
from models.trace import Trace, model_keys

TASK = "qa"
DEFAULT_MODEL = registry.default(TASK)
MAX_CONTEXT_CHARS = 50_000
MAX_LEN = 384
DOC_STRIDE = 128
BATCH = 16
N_CANDIDATES = 20  # top start and end positions tried per window
MAX_TOP_N = 20  # limits the tab's sliders share with the API
MAX_ANSWER_TOKENS = 200
MAX_QUESTION_CHARS = 2_000


class QAModel(TaskModel):
    """A loaded extractive QA model (name, model, tokenizer, checkpoint, meta)."""


@dataclass
class Answer:
    text: str
    start: int  # character offsets in the (cleaned) context
    end: int
    score: float  # start_logit + end_logit
    probability: float  # softmax over the n-best list (and the null answer)
    window: int


@dataclass
class Window:
    """One model input: the logits at every token, and which tokens belong to the context."""
    tokens: list[str]
    offsets: list[tuple[int, int]]  # char offsets in the context; (0, 0) outside it
    is_context: list[bool]
    start_logits: np.ndarray
    end_logits: np.ndarray
    null_score: float


@dataclass
class TokenLogit:
    token: str
    start: int
    end: int
    start_logit: float
    end_logit: float


@dataclass
class QAResult:
    model: str
    question: str
    context: str
    answer: Answer | None  # None: "no answer" won
    nbest: list[Answer]
    null_score: float
    windows: list[Window]
    context_logits: list[TokenLogit]  # one per context token, from its most central window
    notices: list[str]
    seconds: float
    trace: Trace | None = None  # every window's ids as run (what the "Look inside" views read)

    def to_dict(self) -> dict:
        ans = lambda a: None if a is None else {"text": a.text, "start": a.start, "end": a.end,
                                                 "score": round(a.score, 4), "probability": round(a.probability, 4)}
        return {"model": self.model, "answer": ans(self.answer), "no_answer": self.answer is None,
                "null_score": round(self.null_score, 4), "nbest": [ans(a) for a in self.nbest],
                "n_windows": len(self.windows), "notices": self.notices,
                "context_logits": [{"token": t.token, "start": t.start, "end": t.end,
                                    "start_logit": round(t.start_logit, 3), "end_logit": round(t.end_logit, 3)}
                                   for t in self.context_logits]}



def load(name: str = DEFAULT_MODEL) -> QAModel:
    from transformers import AutoModelForQuestionAnswering, BertForQuestionAnswering

    return load_task_model(TASK, name, QAModel, BertForQuestionAnswering, AutoModelForQuestionAnswering)


def encode_windows(tokenizer, question: str, context: str, max_len: int = MAX_LEN, stride: int = DOC_STRIDE,
                   padding: bool = True):
    """Question + context windows as the model reads them (also used by the training recipe)."""
    pad_right = tokenizer.padding_side == "right"
    return tokenizer(
        question if pad_right else context, context if pad_right else question,
        truncation="only_second" if pad_right else "only_first", max_length=max_len, stride=stride,
        return_overflowing_tokens=True, return_offsets_mapping=True,
        padding="max_length" if padding else False, return_tensors=None)


def _span_candidates(start: np.ndarray, end: np.ndarray, is_ctx: np.ndarray, max_answer_len: int):
    """(score, s, e) for the best start/end pairs that form a valid span inside the context."""
    s_idx = [i for i in np.argsort(start)[::-1] if is_ctx[i]][:N_CANDIDATES]
    e_idx = [i for i in np.argsort(end)[::-1] if is_ctx[i]][:N_CANDIDATES]
    return [(float(start[s] + end[e]), int(s), int(e)) for s in s_idx for e in e_idx
            if s <= e and e - s + 1 <= max_answer_len]


@dataclass
class QAInputs:
    """What preprocess() makes of a question and a context: the model's windows and how to read them."""
    question: str
    context: str
    enc: object  # the tokenizer's BatchEncoding, one row per window (offsets and sequence ids kept)
    max_len: int
    stride: int
    ctx_id: int  # sequence id of the context (1 when padding is on the right, as for BERT)
    notices: list[str]

    @property
    def n_windows(self) -> int:
        return len(self.enc["input_ids"])

    def batch(self, qa: QAModel, windows: slice | list[int]) -> dict[str, torch.Tensor]:
        """Model inputs for some windows (no token_type_ids for models that have none)."""
        keys = model_keys(self.enc, qa.model)
        rows = range(self.n_windows)[windows] if isinstance(windows, slice) else windows
        return {k: torch.tensor([self.enc[k][i] for i in rows]) for k in keys}

    def is_context(self, w: int) -> np.ndarray:
        return np.array([s == self.ctx_id for s in self.enc.sequence_ids(w)])


def preprocess(question: str, context: str, qa: QAModel, top_n: int = 5, max_answer_len: int = 30,
               max_len: int | None = None, stride: int | None = None) -> QAInputs:
    """Check and clean the inputs, then cut question + context into the windows the model reads:
    the window the model was trained with (the embedded one: 256 tokens), else SQuAD's 384 / 128."""
    question, notes_q = clean_text(question, "question", max_chars=MAX_QUESTION_CHARS)
    context, notices = clean_text(context, "context", max_chars=MAX_CONTEXT_CHARS)
    notices = notes_q + notices
    if not 1 <= int(top_n) <= MAX_TOP_N:
        raise InputError(f"The n-best size must be between 1 and {MAX_TOP_N}.")
    if not 1 <= int(max_answer_len) <= MAX_ANSWER_TOKENS:
        raise InputError(f"The maximum answer length must be between 1 and {MAX_ANSWER_TOKENS} tokens.")
    tok = qa.tokenizer
    max_len = max_len or qa.meta.get("max_len", MAX_LEN)
    stride = stride or (DOC_STRIDE if max_len == MAX_LEN else max_len // 3)
    script = script_check(context, qa.checkpoint.languages, "context")
    notices += script or script_check(question, qa.checkpoint.languages, "question")
    if not script:
        notices += language_notice(question + context, qa.checkpoint.languages)
    n_q = len(tok(question, add_special_tokens=False)["input_ids"])
    if n_q > max_len // 2:
        raise InputError(f"The question is {n_q} tokens; at most {max_len // 2} fit next to the context in one "
                         f"{max_len}-token window. Shorten the question.")
    enc = encode_windows(tok, question, context, max_len, stride)
    inputs = QAInputs(question, context, enc, max_len, stride, 1 if tok.padding_side == "right" else 0, notices)
    if inputs.n_windows > 1:
        notices.append(f"The context is longer than one {max_len}-token window: it was read as {inputs.n_windows} "
                       f"overlapping windows (stride {stride}) and the answers merged.")
    return inputs


VIEW_SEPARATOR = "[SEP]"  # the "Look inside" views take one text box: "question [SEP] context"


def trace(qa: QAModel, inputs: QAInputs) -> Trace:
    """Every window the model reads for these inputs, as run (without padding), and the context characters
    each covers."""
    keys = model_keys(inputs.enc, qa.model)
    real = lambda key, w: [x for x, m in zip(inputs.enc[key][w], inputs.enc["attention_mask"][w]) if m]
    rows = [real("input_ids", w) for w in range(inputs.n_windows)]
    types = [real("token_type_ids", w) for w in range(inputs.n_windows)] if "token_type_ids" in keys else None
    spans = []
    for w in range(inputs.n_windows):
        ctx = [o for o, c in zip(inputs.enc["offset_mapping"][w], inputs.is_context(w)) if c]
        spans.append((int(ctx[0][0]), int(ctx[-1][1])) if ctx else (0, 0))
    notices = list(inputs.notices)
    return Trace(TASK, qa.name, rows, qa.tokenizer.convert_ids_to_tokens(rows[0]), notices, types, spans)


def view_trace(qa: QAModel, text: str) -> Trace:
    """The trace for "question [SEP] context", the one text box of the "Look inside" views."""
    question, sep, context = (text or "").partition(VIEW_SEPARATOR)
    if not sep or not question.strip() or not context.strip():
        raise InputError(f"A QA model reads a question and its context: write them as 'question {VIEW_SEPARATOR} "
                         f"context'.")
    t = trace(qa, preprocess(question, context, qa))
    if len(t.windows) > 1:
        t.notices.append(f"This view shows the first of the {len(t.windows)} windows the QA tab reads.")
    return t


def forward(qa: QAModel, batch: dict[str, torch.Tensor], inputs_embeds: torch.Tensor | None = None):
    """Start and end logits for a batch of windows (inputs_embeds: for gradients w.r.t. the embeddings)."""
    if inputs_embeds is not None:  # attribution: full precision for the gradients
        keep_ids = getattr(qa.model, "reads_ids_with_embeds", False)  # ChineseBERT: glyph + pinyin need the ids
        batch = {k: v for k, v in batch.items() if k != "input_ids" or keep_ids}
        out = qa.model(inputs_embeds=inputs_embeds, **batch)
    else:
        with precision.autocast("qa"):  # bf16 where the CPU has it (benchmarks/bench_precision.py)
            out = qa.model(**batch)
    return out.start_logits.float(), out.end_logits.float()


PAD_LOGIT = -1e4  # the logits given to padding positions, which are never part of a span


def _unpadded_forward(qa: QAModel, batch: dict[str, torch.Tensor]):
    """forward() on the columns some window of the batch uses: the windows are padded to the full window
    (256 tokens) and a short question + context fills a tenth of it; cutting the shared padding made a short
    question's predict() 2x faster (38 -> 19 ms). The padding is masked either way; every padding position
    gets PAD_LOGIT. Only padding on the right is cut: on the left it would shift the later tokens' positions."""
    mask = batch["attention_mask"]
    hi = int(mask.any(0).nonzero().max()) + 1
    s, e = forward(qa, {k: v[:, :hi] for k, v in batch.items()})
    start = torch.full(mask.shape, PAD_LOGIT)
    end = torch.full(mask.shape, PAD_LOGIT)
    start[:, :hi], end[:, :hi] = s, e
    pad = mask == 0  # the same whatever other windows share the pass
    start[pad], end[pad] = PAD_LOGIT, PAD_LOGIT
    return start, end


@torch.no_grad()
def forward_many(qa: QAModel, many: list[QAInputs]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start and end logits of every window of several requests, BATCH windows per pass; per request."""
    rows = [(k, w) for k, inputs in enumerate(many) for w in range(inputs.n_windows)]
    starts, ends = [], []
    for i in range(0, len(rows), BATCH):
        chunk = rows[i:i + BATCH]
        parts = [many[k].batch(qa, [w]) for k, w in chunk]
        batch = {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
        s, e = _unpadded_forward(qa, batch)
        starts.append(s.numpy())
        ends.append(e.numpy())
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    out, at = [], 0
    for inputs in many:
        out.append((starts[at:at + inputs.n_windows], ends[at:at + inputs.n_windows]))
        at += inputs.n_windows
    return out


def postprocess(qa: QAModel, inputs: QAInputs, starts: np.ndarray, ends: np.ndarray, top_n: int = 5,
                max_answer_len: int = 30, null_threshold: float = 0.0, seconds: float = 0.0) -> QAResult:
    """Valid spans of every window, merged into one n-best list; the null answer; per-token logits."""
    tok, enc, context = qa.tokenizer, inputs.enc, inputs.context
    notices = list(inputs.notices)
    windows, cands, null_scores = [], [], []
    for w in range(inputs.n_windows):
        is_ctx = inputs.is_context(w)
        offsets = [tuple(o) if c else (0, 0) for o, c in zip(enc["offset_mapping"][w], is_ctx)]
        cls_pos = enc["input_ids"][w].index(tok.cls_token_id) if tok.cls_token_id in enc["input_ids"][w] else 0
        null = float(starts[w][cls_pos] + ends[w][cls_pos])
        null_scores.append(null)
        windows.append(Window(tok.convert_ids_to_tokens(enc["input_ids"][w]), offsets, is_ctx.tolist(),
                              starts[w], ends[w], null))
        for score, s, e in _span_candidates(starts[w], ends[w], is_ctx, int(max_answer_len)):
            cands.append((score, offsets[s][0], offsets[e][1], w))

    best = {}
    for score, a, b, w in sorted(cands, reverse=True):  # merge windows: one entry per char span
        if (a, b) not in best and b > a:
            best[(a, b)] = (score, w)
        if len(best) >= top_n:
            break
    null_score = min(null_scores)  # as in SQuAD 2.0 post-processing: the most confident window's null
    knows_no_answer = qa.checkpoint.no_answer
    # probabilities over the spans and, for a model trained to abstain, the null answer
    scores = np.array([v[0] for v in best.values()] + ([null_score] if knows_no_answer else []))
    probs = np.exp(scores - scores.max()) if len(scores) else scores
    probs /= max(probs.sum(), 1e-12)
    nbest = [Answer(context[a:b], a, b, sc, float(p), w) for ((a, b), (sc, w)), p in zip(best.items(), probs)]
    if knows_no_answer:
        answer = nbest[0] if nbest and nbest[0].score + null_threshold >= null_score else None
    else:  # never trained on unanswerable questions: its [CLS] score means nothing, so the best span it is
        answer = nbest[0] if nbest else None
        if answer is not None and answer.score < null_score:
            notices.append("This model was not trained with unanswerable questions, so it always gives its best "
                           "span (the no-answer threshold does not apply); its [CLS] score is higher than this "
                           "span's, so treat the answer with care.")
    if not nbest:
        notices.append("No valid span was found in the context.")

    # one logit pair per context token, taken from the window where it is most central
    per_token: dict[tuple[int, int], tuple[float, TokenLogit]] = {}
    for w, win in enumerate(windows):
        ctx_pos = [i for i, c in enumerate(win.is_context) if c]
        for k, i in enumerate(ctx_pos):
            centrality = min(k, len(ctx_pos) - 1 - k)
            key = win.offsets[i]
            if key not in per_token or centrality > per_token[key][0]:
                per_token[key] = (centrality, TokenLogit(win.tokens[i], key[0], key[1],
                                                         float(win.start_logits[i]), float(win.end_logits[i])))
    context_logits = [v[1] for _, v in sorted(per_token.items())]
    return QAResult(qa.name, inputs.question, context, answer, nbest, null_score, windows, context_logits, notices,
                    round(seconds, 4))


@torch.no_grad()
def answer(qa: QAModel, inputs: QAInputs, top_n: int = 5, max_answer_len: int = 30,
           null_threshold: float = 0.0, t0: float | None = None) -> QAResult:
    """forward (batches of windows) -> postprocess, for inputs already preprocessed."""
    t0 = time.perf_counter() if t0 is None else t0
    # concurrent questions for this model (same window size) share passes (models/batching.py)
    starts, ends = batching.batcher(TASK, qa.name, inputs.max_len).run(inputs, lambda many: forward_many(qa, many))
    result = postprocess(qa, inputs, starts, ends, top_n, max_answer_len, null_threshold, time.perf_counter() - t0)
    result.trace = trace(qa, inputs)
    return result


def predict(question: str, context: str, model: "str | QAModel" = DEFAULT_MODEL, top_n: int = 5, max_answer_len: int = 30,
            null_threshold: float = 0.0, max_len: int | None = None, stride: int | None = None) -> QAResult:
    """preprocess -> forward -> postprocess; the "Look inside" views call the same steps."""
    qa = model if isinstance(model, QAModel) else load(model)
    t0 = time.perf_counter()  # time the prediction, not the one-off load
    inputs = preprocess(question, context, qa, top_n, max_answer_len, max_len, stride)
    return answer(qa, inputs, top_n, max_answer_len, null_threshold, t0)


