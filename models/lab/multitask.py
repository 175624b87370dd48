"""Multi-task fine-tuning: one shared encoder, two heads trained together at every step (MT-DNN, Liu et al.
2019). The second task is the other kind of the first: a sentence task (SST-2, an upload) gets a token head
for CoNLL-2003 named entities; the token task (CoNLL-2003) gets a sentence head for SST-2 sentiment."""
from __future__ import annotations

import random

import torch
from torch import nn

from models.lab import batches, data as lab_data, tokens

IGNORE = tokens.IGNORE
AUX_ROWS = 2000


def aux_task(main: lab_data.TaskData, seed: int = 0) -> tuple[list, list[str]]:
    """The second task's training rows and labels, as the main task's kind is not."""
    if main.kind == lab_data.TOKENS:
        sst2 = lab_data.load_task("sst2", AUX_ROWS, seed)
        return sst2.train, sst2.labels
    sents, labels = lab_data.ner_sentences(AUX_ROWS)
    index = {l: i for i, l in enumerate(labels)}
    return [(w, [index[t] for t in tags]) for w, tags in sents], labels


def encode_aux(tokenizer, main: lab_data.TaskData, rows: list, max_len: int = 64) -> list:
    if main.kind == lab_data.TOKENS:  # sentences: (ids, label)
        return batches.encode_sentences(tokenizer, rows, max_len)
    return tokens.encode(tokenizer, rows, max_len)


def encode_tagged(tokenizer, sentences: list[tuple[list[str], list[str]]], labels: list[str],
                  max_len: int = 64) -> list[tuple[list[int], list[int]]]:
    """Tagged sentences (tag strings) -> (piece ids, a label per piece), as the entity head trains on them."""
    index = {l: i for i, l in enumerate(labels)}
    return tokens.encode(tokenizer, [(w, [index[t] for t in tags]) for w, tags in sentences], max_len)


def aux_loss(model, items, rng: random.Random, batch: int, pad: int) -> torch.Tensor:
    """The second head's cross-entropy on a random batch of its own rows, through the same encoder."""
    x, mask, y = batches.collate(rng.sample(items, min(batch, len(items))), pad)
    logits = model.aux_logits(x, mask)
    return nn.functional.cross_entropy(logits, y) if y.dim() == 1 else tokens.loss(logits, y)
