"""Held-out masked-LM scoring: perplexity and top-1/top-5 at fixed masked positions.

Positions depend only on the tokenizer, the text and the seed, so every model sharing a
tokenizer is scored on exactly the same masked tokens. Every chosen position becomes the
mask token (no 80/10/10 at evaluation). Perplexity = exp(mean cross-entropy on masked
tokens), as in the Hugging Face course chapter the seed follows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

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
        raise ValueError("no tokens to score: the data file has no text of 8 tokens or more")
    return {"n_tokens": n, "perplexity": round(math.exp(total_nll / n), 3),
            "top1": round(top1 / n, 4), "top5": round(top5 / n, 4)}
