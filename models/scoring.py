"""Scorers for every task: what the eval CLI prints and the recipes report. Task modules predict;
this module compares predictions with gold data (readers in models/readers.py).

Held-out masked-LM scoring: perplexity and top-1/top-5 at fixed masked positions.

Positions depend only on the tokenizer, the text and the seed, so every model sharing a
tokenizer is scored on exactly the same masked tokens. Every chosen position becomes the
mask token (no 80/10/10 at evaluation). Perplexity = exp(mean cross-entropy on masked
tokens), as in the Hugging Face course chapter the seed follows.
"""
from __future__ import annotations

import collections

import math
from dataclasses import dataclass

import numpy as np
import torch

from models.errors import InputError

MASK_RATE = 0.15


@dataclass
class MaskedBatch:
    input_ids: list[list[int]]
    labels: list[list[int]]  # -100 where not masked


def mask_fixed_positions(tokenizer, texts: list[str], seed: int = 0, max_len: int = 128,
                         limit_tokens: int | None = None) -> MaskedBatch:
    """Tokenize, cut into windows of max_len (specials included) and mask 15% per window."""
    rng = np.random.default_rng(seed)
    inner = max_len - 2
    ids_out, labels_out, n_masked = [], [], 0
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    for ids in encoded:
        for start in range(0, len(ids), inner):
            piece = ids[start:start + inner]
            if len(piece) < 8:  # too short to say anything; same rule for every model
                continue
            k = max(1, round(MASK_RATE * len(piece)))
            pos = set(rng.choice(len(piece), size=k, replace=False).tolist())
            inp = [tokenizer.mask_token_id if i in pos else t for i, t in enumerate(piece)]
            lab = [t if i in pos else -100 for i, t in enumerate(piece)]
            ids_out.append([tokenizer.cls_token_id] + inp + [tokenizer.sep_token_id])  # BERT and RoBERTa alike
            labels_out.append([-100] + lab + [-100])
            n_masked += k
            if limit_tokens and n_masked >= limit_tokens:
                return MaskedBatch(ids_out, labels_out)
    return MaskedBatch(ids_out, labels_out)


@torch.no_grad()
def score_masked_lm(model, tokenizer, batch: MaskedBatch, batch_size: int = 32) -> dict:
    model.eval()
    device = next(model.parameters()).device
    total_nll, n, top1, top5 = 0.0, 0, 0, 0
    pad = tokenizer.pad_token_id
    for i in range(0, len(batch.input_ids), batch_size):
        ids = batch.input_ids[i:i + batch_size]
        labs = batch.labels[i:i + batch_size]
        width = max(map(len, ids))
        x = torch.full((len(ids), width), pad, dtype=torch.long)
        y = torch.full((len(ids), width), -100, dtype=torch.long)
        for j, (a, b) in enumerate(zip(ids, labs)):
            x[j, :len(a)] = torch.tensor(a)
            y[j, :len(b)] = torch.tensor(b)
        x, y = x.to(device), y.to(device)
        logits = model(input_ids=x, attention_mask=(x != pad).long()).logits
        sel = y != -100
        lg, tgt = logits[sel].float(), y[sel]
        total_nll += torch.nn.functional.cross_entropy(lg, tgt, reduction="sum").item()
        best5 = lg.topk(5, dim=-1).indices
        top1 += (best5[:, 0] == tgt).sum().item()
        top5 += (best5 == tgt[:, None]).any(-1).sum().item()
        n += tgt.numel()
    if n == 0:
        raise InputError("no tokens to score: the data file has no text of 8 tokens or more")
    return {"n_tokens": n, "perplexity": round(math.exp(total_nll / n), 3),
            "top1": round(top1 / n, 4), "top5": round(top5 / n, 4)}


# ---- QA ----

def squad_scores(qa, rows: list[dict], allow_no_answer: bool = False) -> dict:
    """Official SQuAD v1.1 EM / F1 (torchmetrics' implementation of the official script)."""
    from torchmetrics.functional.text import squad

    from models.qa import predict

    preds, target, windows = [], [], 0
    for r in rows:
        res = predict(r["question"], r["context"], qa, top_n=1,
                      null_threshold=0.0 if allow_no_answer else float("inf"))
        windows += len(res.trace.windows)  # what the model read, from the prediction's own trace
        preds.append({"prediction_text": res.answer.text if res.answer else "", "id": r["id"]})
        target.append({"answers": {"answer_start": r["answer_starts"], "text": r["answers"]}, "id": r["id"]})
    scores = squad(preds, target)
    return {"n": len(rows), "exact_match": round(float(scores["exact_match"]), 2), "f1": round(float(scores["f1"]), 2),
            "windows": windows}


# CMRC 2018's official evaluation (cmrc2018_evaluate.py): character-level for Chinese. Its
# mixed segmentation keeps each CJK character and punctuation mark as one segment and splits other runs
# into words (nltk.word_tokenize there; a \w+ / symbol regex here, which agrees on letters and digits).
CMRC_PUNCT = set("-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』") | {"……"}


def _cmrc_segments(text: str, drop_punct: bool = True) -> list[str]:
    import re

    segs, run = [], ""
    for ch in str(text).lower().strip():
        if drop_punct and ch in CMRC_PUNCT:
            continue
        if re.match(r"[\u4e00-\u9fa5]", ch) or ch in CMRC_PUNCT:
            segs += re.findall(r"\w+|[^\w\s]", run)
            run = ""
            segs.append(ch)
        else:
            run += ch
    return segs + re.findall(r"\w+|[^\w\s]", run)


def _longest_common_substring(a: list[str], b: list[str]) -> int:
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def cmrc_em_f1(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(EM, F1) of one prediction against its answers, as the official CMRC 2018 script (max over answers)."""
    def norm(t):
        return "".join(c for c in str(t).lower().strip() if c not in CMRC_PUNCT)

    em = float(any(norm(a) == norm(prediction) for a in answers))
    f1 = 0.0
    pred = _cmrc_segments(prediction)
    for a in answers:
        gold = _cmrc_segments(a)
        lcs = _longest_common_substring(gold, pred)
        if lcs:
            p, r = lcs / len(pred), lcs / len(gold)
            f1 = max(f1, 2 * p * r / (p + r))
    return em, f1


def cmrc_scores(qa, rows: list[dict], max_answer_len: int = 50) -> dict:
    """CMRC 2018 EM / F1 (percent, character level) through the QA tab's own pipeline."""
    from models.qa import predict

    ems, f1s = [], []
    for r in rows:
        res = predict(r["question"], r["context"], qa, top_n=1, max_answer_len=max_answer_len,
                      null_threshold=float("inf"))
        em, f1 = cmrc_em_f1(res.answer.text if res.answer else "", r["answers"])
        ems.append(em)
        f1s.append(f1)
    n = max(len(rows), 1)
    return {"n": len(rows), "exact_match": round(100 * sum(ems) / n, 2), "f1": round(100 * sum(f1s) / n, 2)}


# ---- tagging ----

def entity_scores(gold: list[list[str]], pred: list[list[str]]) -> list[dict]:
    """Entity-level precision / recall / F1 per type and over all ("all", micro-averaged), by seqeval (CoNLL
    style: an entity counts when its type and its exact span match). The one entity scorer: the evaluation CLI
    and batch mode both use it."""
    from seqeval.metrics import classification_report
    from seqeval.metrics.sequence_labeling import get_entities

    if not any(get_entities(seq) for seq in list(gold) + list(pred)):
        return []  # nothing to score (seqeval needs at least one entity)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    predicted = collections.Counter(kind for seq in pred for kind, _, _ in get_entities(seq))
    rows = []
    for kind in sorted(k for k in report if not k.endswith(" avg")):
        r = report[kind]
        rows.append({"label": kind, "gold": int(r["support"]), "predicted": predicted[kind],
                     "precision": round(r["precision"], 4), "recall": round(r["recall"], 4),
                     "f1": round(r["f1-score"], 4)})
    if rows:
        r = report["micro avg"]
        rows.append({"label": "all", "gold": int(r["support"]), "predicted": sum(predicted.values()),
                     "precision": round(r["precision"], 4), "recall": round(r["recall"], 4),
                     "f1": round(r["f1-score"], 4)})
    return rows


def score_conll(tg, sents, aggregation: str = "first") -> dict:
    """Entity-level precision / recall / F1 (seqeval, CoNLL-style)."""
    from models.tagging import labels_of, tag_word_lists

    dists, _ = tag_word_lists(tg, [w for w, _ in sents], aggregation, batch_size=64)
    pred = [[label for label, _ in labels_of(tg, d)] for d in dists]
    every = entity_scores([t for _, t in sents], pred)[-1]
    return {"n": len(sents), "f1": every["f1"], "precision": every["precision"], "recall": every["recall"]}


def score_upos(tg, sents, aggregation: str = "first") -> dict:
    from models.tagging import labels_of, tag_word_lists

    dists, _ = tag_word_lists(tg, [w for w, _ in sents], aggregation, batch_size=64)
    correct = total = 0
    for d, (_, gold) in zip(dists, sents):
        for (label, _), g in zip(labels_of(tg, d), gold):
            correct += label == g
            total += 1
    return {"n": len(sents), "words": total, "accuracy": round(correct / max(total, 1), 4)}


# ---- ChineseBERT ----

@torch.no_grad()
def score_chnsenticorp(name: str, rows: list[tuple[str, int]], batch_size: int = 32) -> dict:
    from models.chinese.mlm import batch_encode, load_classifier

    head, tok = load_classifier(name)
    correct = 0
    for i in range(0, len(rows), batch_size):
        batch = rows[i:i + batch_size]
        _, logits = head(**batch_encode(tok, [t for t, _ in batch]))
        correct += sum(int(p) == l for p, (_, l) in zip(logits.argmax(-1), batch))
    return {"n": len(rows), "accuracy": round(correct / len(rows), 4)}


@torch.no_grad()
def score_masked_chars(name, texts: list[str], seed: int = 0, limit: int | None = None) -> dict:
    """Masked-character accuracy and perplexity: 15% of the Chinese characters of each text, fixed by
    seed, replaced by [MASK] (their pinyin ids zeroed). `name`: a shipped model, or a ChineseLM in memory."""
    from models.chinese import inputs as chinese_inputs
    from models.chinese.mlm import encode, load

    lm = load(name) if isinstance(name, str) else name
    rng = np.random.default_rng(seed)
    nll, n, top1 = 0.0, 0, 0
    for text in texts:
        enc = encode(lm.tokenizer, text)
        cand = [i for i, (a, b) in enumerate(enc.offsets) if b - a == 1 and chinese_inputs.is_cjk(text[a])
                and enc.input_ids[0, i] != lm.tokenizer.unk_token_id]
        if len(cand) < 4:
            continue
        pos = sorted(rng.choice(cand, size=max(1, round(0.15 * len(cand))), replace=False).tolist())
        ids, pin = enc.input_ids.clone(), enc.pinyin_ids.clone()
        gold = ids[0, pos].clone()
        ids[0, pos] = lm.tokenizer.mask_token_id
        pin[0, pos] = 0
        logp = lm.model(ids, pin).logits[0, pos].float().log_softmax(-1)
        nll -= logp[torch.arange(len(pos)), gold].sum().item()
        top1 += (logp.argmax(-1) == gold).sum().item()
        n += len(pos)
        if limit and n >= limit:
            break
    if n == 0:
        raise InputError("no Chinese text to score")
    return {"n_chars": n, "accuracy": round(top1 / n, 4), "perplexity": round(float(np.exp(nll / n)), 3)}


# ---- cloze probes ----

def _score_cloze_probes(path, top5_words) -> tuple[dict, list[list[str]]]:
    """Hits at rank 1 / in the top 5 for each probe of a probe TSV; top5_words(text) -> the model's 5 words.
    Returns the scores and every probe's top-5 list."""
    from models.readers import read_probes

    top1 = top5 = 0
    misses, by_kind, lists = [], {}, []
    for kind, text, answers in read_probes(path):
        words = top5_words(text)
        lists.append(words)
        hit1, hit5 = words[0] in answers, bool(answers & set(words))
        top1, top5 = top1 + hit1, top5 + hit5
        k = by_kind.setdefault(kind, {"n": 0, "top5": 0})
        k["n"], k["top5"] = k["n"] + 1, k["top5"] + hit5
        if not hit5:
            misses.append(f"{text} -> {' '.join(words)}")
    return {"n": sum(k["n"] for k in by_kind.values()), "top1": top1, "top5": top5, "by_kind": by_kind,
            "misses": misses}, lists


def score_probes(model: str, path=None) -> dict:
    """How many cloze probes a masked LM gets right: an accepted answer at rank 1 / in the top 5."""
    from models import fill_mask
    from models.readers import PROBES

    scores, _ = _score_cloze_probes(
        path or PROBES, lambda text: [c.token for c in fill_mask.predict(text, model, 5).predictions[0].candidates])
    return scores


def score_zh_probes(model, path=None) -> dict:
    """The Chinese cloze probes on a ChineseBERT model: accepted answer at rank 1 / in the top 5, and
    how many top-5 lists hold punctuation (the unigram plateau's sign)."""
    from models.chinese import inputs as chinese_inputs, mlm as chinese_mlm
    from models.readers import ZH_PROBES

    scores, lists = _score_cloze_probes(
        path or ZH_PROBES, lambda text: [w for w, _ in chinese_mlm.fill_mask(text, model, 5)[0]])
    punct = sum(any(not chinese_inputs.is_cjk(w[0]) for w in words if w) for words in lists)
    return {**scores, "lists_with_punctuation": punct}
