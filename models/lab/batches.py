"""Rows -> piece ids -> padded batches, for sentence rows (ids, label) and token rows (ids, a label per piece);
the training loop and multi-task's second head batch through here."""
from __future__ import annotations

import torch

from models.lab import tokens


def encode_sentences(tokenizer, rows: list[tuple[str, int]], max_len: int) -> list[tuple[list[int], int]]:
    ids = tokenizer([t for t, _ in rows], truncation=True, max_length=max_len)["input_ids"]
    return list(zip(ids, [label for _, label in rows]))


def collate(items, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(ids, attention mask, labels): labels [batch] for sentence rows, [batch, width] for token rows."""
    if items and isinstance(items[0][1], list):  # a token task: a label per piece
        return tokens.collate(items, pad)
    width = max(len(ids) for ids, _ in items)
    x = torch.full((len(items), width), pad, dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        x[i, :len(ids)] = torch.tensor(ids)
    return x, (x != pad).long(), torch.tensor([label for _, label in items])
