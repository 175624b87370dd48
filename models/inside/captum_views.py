"""Attribution through Captum: Integrated Gradients on the embedding layer, LIME and occlusion (feature
ablation), on the very input the tab runs (the prompt tab's cloze prompt, the fill-mask tab's text, the QA
tab's answer window), so two methods can be compared on one prediction.

Every method scores the same "features": the words of the user's text (whitespace words; sub-tokens of a word
move together). Their baseline is the [PAD] token; template words, special tokens and the mask keep their ids,
so no method perturbs them. Integrated Gradients reports its convergence delta (sum of the attributions minus
the difference of the explained score between input and baseline: near 0 = the attributions add up).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from models import fill_mask, prompt_cls, qa
from models.prompt import cloze
from models.trace import encode_with_offsets
from models.errors import InputError
from models.inside.attribution import Attribution, _spans, shown_answer
from models.text_checks import clean_text

METHODS = ("Integrated Gradients", "LIME", "Occlusion")
# batch mode's QA rows: one forward + one backward pass per row. Occlusion costs one forward pass of the whole
# window per scored word (~0.2 s each for a 256-token window on a 2-core CPU): ~10 s a row even near the answer.
GRADIENT_X_INPUT = "Gradient x input"
MAX_WORDS = 120
# a word: a run of non-space characters, but each CJK character on its own (the tokenizers split them so)
WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
IG_STEPS = 32
LIME_SAMPLES = 200


@dataclass
class CaptumResult:
    method: str
    attribution: Attribution
    delta: float | None  # Integrated Gradients' convergence delta, else None
    explained: str  # what the scores explain, in words


def _word_features(offsets: list[tuple[int, int]], text_start: int, text: str,
                   max_words: int = MAX_WORDS) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Words of `text` (placed at text_start in the encoded string) and each token's word number (0 = not a word of
    the text: template, special tokens, mask)."""
    words = [(m.start(), m.end()) for m in WORD.finditer(text)]
    if not words:
        raise InputError("The text is empty.")
    if len(words) > max_words:
        raise InputError(f"The text has {len(words)} words; these methods explain at most {max_words}. Shorten it.")
    feature = np.zeros(len(offsets), dtype=np.int64)
    for i, (a, b) in enumerate(offsets):
        if b <= a:
            continue
        a, b = a - text_start, b - text_start
        for w, (wa, wb) in enumerate(words, 1):
            if a < wb and b > wa:
                feature[i] = w
                break
    return words, feature


def _sum_per_word(attr: torch.Tensor, feature: np.ndarray, n_words: int) -> np.ndarray:
    """An embedding-layer attribution [1, L, hidden] summed over each token's vector, then over each word's tokens."""
    per_token = attr.sum(-1)[0].detach().float().numpy()
    return np.array([per_token[feature == w].sum() for w in range(1, n_words + 1)])


def _run(method: str, forward, ids: torch.Tensor, feature: np.ndarray, pad_id: int, embeddings) -> tuple[np.ndarray, float | None]:
    """Per-word scores [n_words] of `forward` (ids [b, L] -> score [b]) by one Captum method."""
    from captum.attr import FeatureAblation, LayerIntegratedGradients, Lime
    from captum._utils.models.linear_model import SkLearnLinearRegression

    fmask = torch.from_numpy(feature)[None]
    baseline = torch.where(fmask > 0, torch.full_like(ids, pad_id), ids)
    n_words = int(feature.max())
    if method == "Integrated Gradients":
        lig = LayerIntegratedGradients(forward, embeddings)
        with torch.enable_grad():
            attr, delta = lig.attribute(ids, baselines=baseline, n_steps=IG_STEPS, internal_batch_size=IG_STEPS,
                                        return_convergence_delta=True)
        return _sum_per_word(attr, feature, n_words), float(delta.abs().max())
    if method == GRADIENT_X_INPUT:
        from captum.attr import LayerGradientXActivation

        with torch.enable_grad():
            attr = LayerGradientXActivation(forward, embeddings).attribute(ids)
        return _sum_per_word(attr, feature, n_words), None
    if method == "LIME":
        lime = Lime(forward, interpretable_model=SkLearnLinearRegression())
        with torch.random.fork_rng():  # the same input gives the same explanation, click after click
            torch.manual_seed(0)
            attr = lime.attribute(ids, baselines=baseline, feature_mask=fmask, n_samples=LIME_SAMPLES,
                                  perturbations_per_eval=50)
    elif method == "Occlusion":
        attr = FeatureAblation(forward).attribute(ids, baselines=baseline, feature_mask=fmask, perturbations_per_eval=32)
    else:
        raise InputError(f"Unknown method '{method}'; choose one of {', '.join(METHODS)}.")
    per_token = attr[0].detach().float().numpy()
    return np.array([per_token[feature == w][0] for w in range(1, n_words + 1)]), None


def explain_classification(text: str, spec: prompt_cls.PromptSpec, method: str, model: str = fill_mask.DEFAULT_MODEL,
                           calibrate: bool = False) -> CaptumResult:
    """Explain the cloze classifier's label (as the prompt tab predicts it): the log-odds of that label against
    the others at the mask, from the same prompt the tab builds."""
    text, _ = clean_text(text)
    lm = fill_mask.load(model)
    tok = lm.tokenizer
    pieces = {l: [prompt_cls.word_pieces(tok, w) for w in ws] for l, ws in spec.verbalizer.items()}
    if any(len(p) != 1 for ps in pieces.values() for p in ps):
        raise InputError("These methods need label words of one word-piece each (e.g. great / terrible).")
    probs, _, _ = prompt_cls.label_probabilities(spec, [text], "cloze", model, calibrate=calibrate)
    label = int(probs[0].argmax())
    prompt = prompt_cls.build_cloze_prompt(lm, spec, text, 1)
    start = len(spec.template.split("{text}")[0].replace("{mask}", tok.mask_token))
    prompt_ids, offsets = cloze.encode_prompt(lm, prompt, offsets=True)  # the ids the prompt tab runs
    ids = torch.tensor([prompt_ids])
    at = prompt_ids.index(tok.mask_token_id)
    words, feature = _word_features(offsets, start, text)
    word_ids = [torch.tensor([p[0] for p in ps]) for ps in pieces.values()]

    def forward(x):
        logp = lm.model(input_ids=x, attention_mask=torch.ones_like(x)).logits[:, at].float().log_softmax(-1)
        per_label = torch.stack([logp[:, w].exp().mean(-1).log() for w in word_ids], -1)  # log mean word prob
        others = torch.cat([per_label[:, :label], per_label[:, label + 1:]], -1)
        return per_label[:, label] - torch.logsumexp(others, -1)

    scores, delta = _run(method, forward, ids, feature, tok.pad_token_id, lm.model.get_input_embeddings())
    name = spec.labels[label]
    return CaptumResult(method, Attribution(method, name, round(float(probs[0, label]), 4), _spans(text, words, scores)),
                        delta, f"log-odds of '{name}' against the other labels at the mask")


def explain_contrast(text: str, word_x: str, word_y: str, method: str, model: str = fill_mask.DEFAULT_MODEL) -> CaptumResult:
    """Why X rather than Y at the (first) mask: the attribution of logit(X) - logit(Y)."""
    text, _ = clean_text(text)
    lm = fill_mask.load(model)
    tok = lm.tokenizer
    if tok.mask_token not in text and "[MASK]" not in text:
        raise InputError(f"Put a {tok.mask_token} where the two words compete.")
    text = text.replace("[MASK]", tok.mask_token)
    ids_xy = []
    for w in (word_x, word_y):
        p = prompt_cls.word_pieces(tok, (w or "").strip())
        if len(p) != 1:
            raise InputError(f"'{w}' must be one word-piece of {model}'s vocabulary (it is {len(p)}).")
        ids_xy.append(p[0])
    ids, offsets = encode_with_offsets(tok, text, lm.max_tokens)
    if ids != fill_mask.trace(lm, text).input_ids:  # explain only what the fill-mask tab runs
        raise InputError(f"The text is longer than the {lm.max_tokens} tokens {model} reads at once: shorten it "
                         f"to explain one prediction.")
    at = ids.index(tok.mask_token_id)
    words, feature = _word_features(offsets, 0, text)
    feature[at] = 0  # the mask itself stays

    def forward(x):
        logits = lm.model(input_ids=x, attention_mask=torch.ones_like(x)).logits[:, at].float()
        return logits[:, ids_xy[0]] - logits[:, ids_xy[1]]

    with torch.no_grad():
        margin = float(forward(torch.tensor([ids]))[0])
    scores, delta = _run(method, forward, torch.tensor([ids]), feature, tok.pad_token_id,
                         lm.model.get_input_embeddings())
    att = Attribution(method, f"{word_x} rather than {word_y}", round(margin, 3), _spans(text, words, scores))
    return CaptumResult(method, att, delta, f"logit('{word_x}') - logit('{word_y}') at the mask = {margin:+.2f}")


def explain_qa(question: str, context: str, side: str, method: str, model: str = qa.DEFAULT_MODEL,
               max_answer_len: int = 30) -> CaptumResult:
    """The QA tab's answer, its start logit or its end logit, over the context words of its window."""
    sa = shown_answer(question, context, model, max_answer_len)
    m, context = sa.model, sa.inputs.context
    ctx_offsets = [o if sa.is_context[i] else (0, 0) for i, o in enumerate(sa.offsets)]
    # the words of the answer's window only (a long context has many windows; one window holds <= 384 tokens)
    lo, hi = min(a for a, b in ctx_offsets if b > a), max(b for a, b in ctx_offsets if b > a)
    words, feature = _word_features(ctx_offsets, lo, context[lo:hi], max_words=qa.MAX_LEN)
    words = [(a + lo, b + lo) for a, b in words]
    index, which = (sa.start, 0) if side == "start" else (sa.end, 1)
    extra = {k: v for k, v in sa.batch.items() if k != "input_ids"}

    def forward(x):
        out = qa.forward(m, {**{k: v.expand(x.shape[0], -1) for k, v in extra.items()}, "input_ids": x})
        return out[which][:, index].float()

    scores, delta = _run(method, forward, sa.batch["input_ids"], feature, m.tokenizer.pad_token_id,
                         m.model.get_input_embeddings())
    ans = sa.answer
    att = Attribution(method, ans.text, round(float(ans.score), 3), _spans(context[:words[-1][1]], words, scores))
    return CaptumResult(method, att, delta, f"the {side} logit of '{ans.text}'")


def explain_entity(text: str, entity: int, method: str, model: str = "embedded-ner", shown=None) -> CaptumResult:
    """One entity the tagging tab finds (1 = the first): the sum of its words' label logits (first sub-token of
    each word, the tab's default aggregation), over every word of the text. `shown`: the tagging result of
    `text` by `model` when the caller already has it (batch mode), else it is computed here."""
    from models import tagging

    shown = shown or tagging.predict(text, model)
    if not shown.entities:
        raise InputError(f"{model} finds no entity in this text to explain.")
    if not 1 <= int(entity) <= len(shown.entities):
        raise InputError(f"Entity {int(entity)} does not exist: the tagger found {len(shown.entities)} "
                         f"({', '.join(e.text for e in shown.entities)}).")
    ent = shown.entities[int(entity) - 1]
    tg = tagging.load(model)
    tok = tg.tokenizer
    pieces = tagging.word_pieces(tok, [w.word for w in shown.words])
    if sum(map(len, pieces)) > tg.max_tokens - 2:
        raise InputError(f"These methods explain texts of one {tg.max_tokens - 2}-token window; shorten the text.")
    ids, feature, firsts = [tok.cls_token_id], [0], []
    for w, p in enumerate(pieces, 1):
        firsts.append(len(ids))
        ids += p
        feature += [w] * len(p)
    ids.append(tok.sep_token_id)
    feature.append(0)
    label2id = {v: k for k, v in tg.id2label.items()}
    targets = [(firsts[i], label2id[w.label]) for i, w in enumerate(shown.words) if w.start >= ent.start and w.end <= ent.end]
    pos = torch.tensor([p for p, _ in targets])
    lab = torch.tensor([lab for _, lab in targets])

    def forward(x):
        return tg.model(input_ids=x, attention_mask=torch.ones_like(x)).logits[:, pos, lab].float().sum(-1)

    scores, delta = _run(method, forward, torch.tensor([ids]), np.array(feature), tok.pad_token_id,
                         tg.model.get_input_embeddings())
    spans = _spans(shown.text, [(w.start, w.end) for w in shown.words], scores)
    return CaptumResult(method, Attribution(method, f"{ent.text} ({ent.label})", ent.score, spans), delta,
                        f"the {ent.label} logits of '{ent.text}' (entity {int(entity)} of {len(shown.entities)})")
