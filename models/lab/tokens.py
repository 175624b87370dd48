"""Token tasks in the lab (CoNLL-2003 entities): words -> pieces with the tagging tab's one encoder, a word's
label on its first piece (the others ignored by the loss), and entity F1 over whole entities with seqeval,
as the shipped tagger is scored (models/eval.py conll)."""
from __future__ import annotations

import torch

from models import tagging

IGNORE = -100
MAX_PIECES = 128  # per sentence (CoNLL sentences are short; the few longer ones lose their last words)


def encode(tokenizer, rows: list[tuple[list[str], list[int]]],
           max_len: int = MAX_PIECES) -> list[tuple[list[int], list[int]]]:
    """(piece ids with [CLS] / [SEP], a label per piece: the word's on its first piece, IGNORE elsewhere)."""
    out = []
    for words, tags in rows:
        ids, labs = [tokenizer.cls_token_id], [IGNORE]
        for pieces, tag in zip(tagging.word_pieces(tokenizer, words), tags):
            ids += pieces
            labs += [tag] + [IGNORE] * (len(pieces) - 1)
        out.append((ids[:max_len - 1] + [tokenizer.sep_token_id], labs[:max_len - 1] + [IGNORE]))
    return out


def collate(items, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in items)
    x = torch.full((len(items), width), pad, dtype=torch.long)
    y = torch.full((len(items), width), IGNORE, dtype=torch.long)
    for i, (ids, labs) in enumerate(items):
        x[i, :len(ids)], y[i, :len(labs)] = torch.tensor(ids), torch.tensor(labs)
    return x, (x != pad).long(), y


def loss(logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), gold.reshape(-1),
                                             ignore_index=IGNORE)


@torch.no_grad()
def entity_f1(model, items, labels: list[str], pad: int) -> float:
    """seqeval's micro entity F1 of the model's first-piece predictions against the gold tags."""
    from seqeval.metrics import f1_score

    model.eval()
    gold_tags, pred_tags = [], []
    for i in range(0, len(items), 64):
        x, mask, y = collate(items[i:i + 64], pad)
        pred = model(x, mask).argmax(-1)
        for p_row, y_row in zip(pred, y):
            keep = y_row != IGNORE
            gold_tags.append([labels[t] for t in y_row[keep].tolist()])
            pred_tags.append([labels[t] for t in p_row[keep].tolist()])
    return float(f1_score(gold_tags, pred_tags, zero_division=0))


@torch.no_grad()
def tag_words(model, words: list[str], labels: list[str]) -> list[str]:
    """One tag per word (the first piece's); words past the piece limit get "O"."""
    model.eval()
    (ids, labs), = encode(model.tokenizer, [(words, [0] * len(words))])
    x = torch.tensor([ids])
    pred = model(x, torch.ones_like(x))[0].argmax(-1)
    tags = [labels[int(p)] for p, l in zip(pred, labs) if l != IGNORE]
    return tags + ["O"] * (len(words) - len(tags))
