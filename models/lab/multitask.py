"""Multi-task fine-tuning: one shared encoder, two heads trained together at every step (MT-DNN, Liu et al.
2019): the task's sentence head and a token head for CoNLL-2003 named entities. Words are encoded with the
tagging tab's one word -> sub-token encoder; a word's label sits on its first piece, the others are ignored."""
from __future__ import annotations

import random

import torch
from torch import nn

from models import tagging

IGNORE = -100


def encode_tagged(tokenizer, sentences: list[tuple[list[str], list[str]]], labels: list[str],
                  max_len: int = 64) -> list[tuple[list[int], list[int]]]:
    index = {l: i for i, l in enumerate(labels)}
    out = []
    for words, tags in sentences:
        ids, labs = [tokenizer.cls_token_id], [IGNORE]
        for pieces, tag in zip(tagging.word_pieces(tokenizer, words), tags):
            ids += pieces
            labs += [index[tag]] + [IGNORE] * (len(pieces) - 1)
        out.append((ids[:max_len - 1] + [tokenizer.sep_token_id], labs[:max_len - 1] + [IGNORE]))
    return out


def aux_loss(model, items, rng: random.Random, batch: int, pad: int) -> torch.Tensor:
    """The entity head's cross-entropy on a random batch of its sentences."""
    chosen = rng.sample(items, min(batch, len(items)))
    width = max(len(ids) for ids, _ in chosen)
    x = torch.full((len(chosen), width), pad, dtype=torch.long)
    y = torch.full((len(chosen), width), IGNORE, dtype=torch.long)
    for i, (ids, labs) in enumerate(chosen):
        x[i, :len(ids)], y[i, :len(labs)] = torch.tensor(ids), torch.tensor(labs)
    logits = model.token_logits(x, (x != pad).long())
    return nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.view(-1), ignore_index=IGNORE)
