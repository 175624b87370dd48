"""Fill-mask: load a masked LM and predict the top-k words at every mask.

`predict(text, model=..., top_k=...)` returns a `FillMaskResult` carrying everything the tab
shows and the API returns; with `capture=True` it also carries attentions, hidden states and
the full vocabulary logits at each mask.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
import torch

from models import batching, precision
from models.errors import InputError
from models import registry
from models.task_model import TaskModel, load_task_model
from models.text_checks import clean_text, language_notice, script_check
from models.trace import Trace

TASK = "fill-mask"
DEFAULT_MODEL = registry.default(TASK)
MAX_MASKS = 10
MAX_TOP_K = 50
MASK_MARKER = re.compile(r"\[mask\]|<mask>", re.IGNORECASE)  # accepted whatever the model's own token



class MaskedLM(TaskModel):
    """A loaded masked LM (name, model, tokenizer, checkpoint, meta)."""


@dataclass
class Candidate:
    token: str
    token_id: int
    score: float


@dataclass
class MaskPrediction:
    index: int  # 0-based mask number in the text
    position: int  # token position in `tokens`
    candidates: list[Candidate]


@dataclass
class FillMaskResult:
    model: str
    text: str  # the text as the model read it (cleaned; the model's mask token inserted)
    tokens: list[str]
    mask_positions: list[int]
    predictions: list[MaskPrediction]
    filled: str  # the input with every mask replaced by its top-1 word
    sequences: list[str]  # for one mask: the text filled with each candidate
    notices: list[str]
    seconds: float
    attentions: list[np.ndarray] | None = None  # per layer [heads, seq, seq]
    hidden_states: list[np.ndarray] | None = None  # embeddings + per layer [seq, hidden]
    mask_logits: np.ndarray | None = None  # [n_masks, vocab]
    trace: Trace | None = None  # the ids the model ran (what the "Look inside" views read)

    def to_dict(self) -> dict:
        return {"model": self.model, "text": self.text, "filled": self.filled, "sequences": self.sequences,
                "notices": self.notices, "tokens": self.tokens, "mask_positions": self.mask_positions,
                "predictions": [{"mask": p.index, "position": p.position,
                                 "candidates": [{"token": c.token, "score": c.score} for c in p.candidates]}
                                for p in self.predictions]}


def load(name: str = DEFAULT_MODEL) -> MaskedLM:
    from transformers import AutoModelForMaskedLM, BertForMaskedLM

    return load_task_model(TASK, name, MaskedLM, BertForMaskedLM, AutoModelForMaskedLM)


def display_token(tokenizer, token_id: int) -> str:
    text = tokenizer.decode([token_id]).strip()
    return text or tokenizer.convert_ids_to_tokens(token_id)


def _tokenize_around_masks(tokenizer, segments: list[str]) -> tuple[list[int], list[int]]:
    """Token ids of text segments joined by mask tokens, and the mask positions."""
    ids, positions = [], []
    for i, seg in enumerate(segments):
        if i < len(segments) - 1:
            seg = seg.rstrip()  # RoBERTa's <mask> absorbs the space before it
        # verbose=False: a long text is windowed below, so the tokenizer's "longer than the maximum" warning is noise
        ids += tokenizer(seg, add_special_tokens=False, verbose=False)["input_ids"] if seg else []
        if i < len(segments) - 1:
            positions.append(len(ids))
            ids.append(tokenizer.mask_token_id)
    return ids, positions


def _window(ids: list[int], positions: list[int], size: int) -> tuple[int, int]:
    """[start, end) of at most `size` tokens holding every mask, centred on them."""
    if len(ids) <= size:
        return 0, len(ids)
    span = positions[-1] - positions[0] + 1
    if span > size:
        raise InputError(f"The masks are {span} tokens apart, but the model reads at most {size} tokens at once. "
                         f"Put the masks closer together or split the text.")
    start = max(0, min(positions[0] - (size - span) // 2, len(ids) - size))
    return start, start + size


@dataclass
class MaskInputs:
    """What preprocess() makes of a text: the token ids the model reads and where the masks are."""
    segments: list[str]  # the text split at its masks
    ids: list[int]  # [CLS] + the window around the masks + [SEP]
    positions: list[int]  # mask positions in ids
    notices: list[str]


def check_top_k(top_k) -> int:
    try:
        top_k = int(top_k)
    except (TypeError, ValueError):
        raise InputError(f"top_k must be a whole number, got {top_k!r}.")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}.")
    return top_k


def split_at_masks(text: str) -> list[str]:
    segments = MASK_MARKER.split(text)
    n_masks = len(segments) - 1
    if n_masks == 0:
        raise InputError("No mask found. Write [MASK] (or <mask>) where a word is missing, "
                         "e.g. 'Paris is the [MASK] of France.'")
    if n_masks > MAX_MASKS:
        raise InputError(f"The text has {n_masks} masks; at most {MAX_MASKS} are allowed.")
    return segments


def _unknown_words(tok, text: str) -> list[str]:
    """The pre-tokenised pieces the tokenizer turns into its unknown token (what a [UNK] stands for)."""
    pre = getattr(getattr(tok, "backend_tokenizer", None), "pre_tokenizer", None)
    if pre is None or tok.unk_token_id is None:
        return []
    pieces = [w for w, _ in pre.pre_tokenize_str(text)]
    return [w for w in dict.fromkeys(pieces)
            if tok.unk_token_id in tok(w, add_special_tokens=False)["input_ids"]]


def preprocess(text: str, lm: MaskedLM) -> MaskInputs:
    """Clean the text, find its masks (whatever the model's own mask token), and keep the window of
    tokens around them that fits the model."""
    text, notices = clean_text(text)
    segments = split_at_masks(text)
    tok = lm.tokenizer
    words = MASK_MARKER.sub(" ", text)  # what the user wrote, without the blanks
    notices += script_check(words, lm.checkpoint.languages) or language_notice(text, lm.checkpoint.languages)
    ids, positions = _tokenize_around_masks(tok, segments)
    size = lm.max_tokens - 2
    start, end = _window(ids, positions, size)
    if (start, end) != (0, len(ids)):
        notices.append(f"The text is {len(ids):,} tokens; the model reads {size} at once, so only tokens "
                       f"{start + 1:,}-{end:,} (around the masks) were used.")
    ids = [tok.cls_token_id] + ids[start:end] + [tok.sep_token_id]
    positions = [p - start + 1 for p in positions]
    n_unk = ids.count(tok.unk_token_id) if tok.unk_token_id is not None else 0
    if n_unk:
        unknown = _unknown_words(tok, words)
        shown = f" ({', '.join(unknown[:8])}{', …' if len(unknown) > 8 else ''})" if unknown else ""
        notices.append(f"{n_unk} piece(s) of the text are not in the model's vocabulary{shown}; "
                       f"the model sees each as one {tok.unk_token} token.")
    return MaskInputs(segments, ids, positions, notices)


def trace(lm: MaskedLM, text: str, inputs: MaskInputs | None = None) -> Trace:
    """What the model reads for `text` in this tab: with blanks, the very window predict() runs (it passes its
    `inputs`); without, the text in the same form (special tokens around, cut to the model's window), so the
    "Look inside" views can also show a sentence with no blank."""
    if inputs is None and MASK_MARKER.search(text or ""):
        inputs = preprocess(text, lm)
    if inputs is not None:
        ids, notices = inputs.ids, list(inputs.notices)
    else:
        text, notices = clean_text(text)
        tok = lm.tokenizer
        ids = tok(text, add_special_tokens=False, verbose=False)["input_ids"]
        size = lm.max_tokens - 2
        if len(ids) > size:
            notices.append(f"The text is {len(ids):,} tokens; the model reads {size} at once: the first {size}.")
        ids = [tok.cls_token_id] + ids[:size] + [tok.sep_token_id]
    return Trace(TASK, lm.name, [ids], lm.tokenizer.convert_ids_to_tokens(ids), notices)


@dataclass
class MaskLogits:
    """Vocabulary logits at the mask positions only: [1, n_masks, V]."""
    logits: torch.Tensor
    at_masks: bool = True


def _mlm_head(model):
    """The vocabulary head of a BERT-style (`cls`) or RoBERTa-style (`lm_head`) masked LM, else None."""
    return getattr(model, "cls", None) or getattr(model, "lm_head", None)


def forward(lm: MaskedLM, inputs: MaskInputs, capture: bool = False):
    """The model's output for the window (with attentions and hidden states when capture). Without capture,
    the vocabulary head runs on the mask positions only: on 128 tokens it is a third of the model's work
    (384 x 30,522 per position) and only the masks are read."""
    ids = torch.tensor([inputs.ids])
    head = _mlm_head(lm.model)
    if capture:  # Look inside draws the internals: full precision (softmax rows that sum to 1, exact lenses)
        return lm.model(input_ids=ids, output_attentions=True, output_hidden_states=True)
    with precision.autocast("fill-mask"):  # bf16 where the CPU has it (benchmarks/bench_precision.py)
        if head is None:
            return lm.model(input_ids=ids)
        hidden = lm.model.base_model(input_ids=ids).last_hidden_state
        return MaskLogits(head(hidden[:, inputs.positions]))


def forward_many(lm: MaskedLM, many: list[MaskInputs]) -> list:
    """forward() for several requests in one padded pass (models/batching.py): each one's logits at its own
    masks, as forward() gives them for it alone (the padding is masked out)."""
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    x = torch.full((len(many), max(len(i.ids) for i in many)), pad, dtype=torch.long)
    mask = torch.zeros_like(x)
    for row, inputs in enumerate(many):
        x[row, :len(inputs.ids)], mask[row, :len(inputs.ids)] = torch.tensor(inputs.ids), 1
    head = _mlm_head(lm.model)
    with torch.no_grad(), precision.autocast("fill-mask"):
        if head is None:
            logits = lm.model(input_ids=x, attention_mask=mask).logits
            return [MaskLogits(logits[row:row + 1, i.positions]) for row, i in enumerate(many)]
        hidden = lm.model.base_model(input_ids=x, attention_mask=mask).last_hidden_state
        return [MaskLogits(head(hidden[row:row + 1, i.positions])) for row, i in enumerate(many)]


def postprocess(lm: MaskedLM, inputs: MaskInputs, out, top_k: int, capture: bool = False) -> FillMaskResult:
    """Top-k words at each mask, the filled-in text, and (capture) the internals the views draw."""
    tok, positions, segments = lm.tokenizer, inputs.positions, inputs.segments
    logits = (out.logits[0] if getattr(out, "at_masks", False) else out.logits[0, positions]).float()  # [n_masks, V]
    probs = logits.softmax(-1)
    top = probs.topk(top_k, dim=-1)
    predictions = []
    for m, pos in enumerate(positions):
        cands = [Candidate(display_token(tok, int(i)), int(i), round(float(s), 6))
                 for s, i in zip(top.values[m], top.indices[m])]
        predictions.append(MaskPrediction(m, pos, cands))

    def fill(words: list[str]) -> str:
        parts = [segments[0]]
        for w, seg in zip(words, segments[1:]):
            parts += [w, seg]
        return "".join(parts)

    n_masks = len(positions)
    result = FillMaskResult(
        model=lm.name, text=fill([tok.mask_token] * n_masks), tokens=tok.convert_ids_to_tokens(inputs.ids),
        mask_positions=positions, predictions=predictions, filled=fill([p.candidates[0].token for p in predictions]),
        sequences=[fill([c.token]) for c in predictions[0].candidates] if n_masks == 1 else [],
        notices=list(inputs.notices), seconds=0.0)
    if capture:
        result.attentions = [a[0].numpy() for a in out.attentions]
        result.hidden_states = [h[0].numpy() for h in out.hidden_states]
        result.mask_logits = logits.numpy()
    return result


@torch.no_grad()
def predict(text: str, model: str = DEFAULT_MODEL, top_k: int = 5, capture: bool = False) -> FillMaskResult:
    """preprocess -> forward -> postprocess; the "Look inside" views call the same steps (capture=True)."""
    cleaned, _ = clean_text(text)  # the input's own errors come before any model is loaded
    top_k = check_top_k(top_k)
    split_at_masks(cleaned)
    lm = load(model)
    t0 = time.perf_counter()  # time the prediction, not the one-off load
    inputs = preprocess(text, lm)
    # concurrent requests for this model share one forward pass; the views' captures run alone
    out = forward(lm, inputs, True) if capture else \
        batching.batcher(TASK, lm.name).run(inputs, lambda many: forward_many(lm, many))
    result = postprocess(lm, inputs, out, top_k, capture)
    result.trace = trace(lm, text, inputs)
    result.seconds = round(time.perf_counter() - t0, 4)
    return result
