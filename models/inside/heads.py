"""Head importance (Michel et al., 2019) and step-by-step head pruning for the tagging models.

transformers 5 removed `head_mask`, so heads are gated by hand: a forward pre-hook on each layer's
attention output projection multiplies every head's slice of the context vector by a gate. With
gates = 1 the model is unchanged; a gate of 0 prunes that head. Importance of a head is |dL/dgate|
summed over a labelled set, then normalised per layer (L2), as in the paper.
"""
from __future__ import annotations

import contextlib
import copy
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models import precision, readers, registry, tagging
from models.errors import InputError
from models.inside import encoder_layers
from models.loading import cached_load

FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def n_heads(model) -> tuple[int, int]:
    return len(encoder_layers(model)), model.config.num_attention_heads


def private_tagger(model: str) -> tagging.Tagger:
    """A copy of the tab's tagger that only this view gates. Hooks on the shared copy would change what
    the tagging tab (running at the same time in another event) returns."""
    def build():
        shared = tagging.load(model)
        own = copy.copy(shared)
        own.model = copy.deepcopy(shared.model)
        own.model._gate_lock = threading.Lock()  # one gating at a time: gates never stack
        return own

    return cached_load(("inside-heads", model), build, evictable=True)


@contextlib.contextmanager
def head_gates(model, gates: torch.Tensor):
    """Run the model with each head's output scaled by gates[layer, head] (1 = as is, 0 = pruned).

    Only on a private copy (private_tagger): the model's lock is held while the gates are on, so two
    requests never stack their gates on one model."""
    layers = encoder_layers(model)
    nh = model.config.num_attention_heads
    if tuple(gates.shape) != (len(layers), nh):
        raise InputError(f"gates must be {len(layers)} x {nh}, got {tuple(gates.shape)}")
    lock = getattr(model, "_gate_lock", None)
    if lock is None:
        raise RuntimeError("head_gates needs a private model copy (heads.private_tagger), never a shared one")

    def hook_for(i):
        def hook(module, args):
            x = args[0]
            b, s, hid = x.shape
            g = gates[i].to(x.dtype).view(1, 1, nh, 1)
            return ((x.view(b, s, nh, hid // nh) * g).view(b, s, hid),) + tuple(args[1:])
        return hook

    with lock:
        handles = [layer.attention.output.dense.register_forward_pre_hook(hook_for(i))
                   for i, layer in enumerate(layers)]
        try:
            yield gates
        finally:
            for h in handles:
                h.remove()


def load_labelled(model: str, path: str | Path | None = None) -> list[tuple[list[str], list[str]]]:
    """A labelled tagging set: the built-in sample of the model's data set, or a CoNLL(-U) file."""
    # built-in labelled sample of the model's data set (.conllu: UPOS; otherwise CoNLL-2003 IOB1, read as BIO)
    path = Path(path) if path else registry.get("tagging", model).sample
    if path is None:
        raise InputError(f"No built-in labelled sample for '{model}'; give a CoNLL or CoNLL-U file.")
    if path.suffix == ".conllu":
        return readers.read_conllu(path)
    return readers.read_conll(path)


def encode_labelled(tg: tagging.Tagger, sents) -> dict[str, torch.Tensor]:
    """Word labels on each word's first sub-token (-100 elsewhere, and for labels the model lacks)."""
    tok, size = tg.tokenizer, tg.max_tokens
    label2id = {v: k for k, v in tg.id2label.items()}
    rows, labels = [], []
    for words, tags in sents:
        ids, labs = [tok.cls_token_id], [-100]
        for pieces, t in zip(tagging.word_pieces(tok, words), tags):
            ids += pieces
            labs += [label2id.get(t, -100)] + [-100] * (len(pieces) - 1)
        ids, labs = ids[:size - 1] + [tok.sep_token_id], labs[:size - 1] + [-100]
        rows.append(ids)
        labels.append(labs)
    width = max(map(len, rows))
    x = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    y = torch.full((len(rows), width), -100, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        x[i, :len(r)], y[i, :len(lab)] = torch.tensor(r), torch.tensor(lab)
    if (y != -100).sum() == 0:
        raise InputError("None of the labelled words carries a label this model knows.")
    return {"input_ids": x, "attention_mask": (x != tok.pad_token_id).long(), "labels": y}


def _batches(batch: dict, size: int = 32):
    """Sentences of similar length together, each batch cut to its longest: sums over the set do not depend
    on the order, and padding was most of the work (100 sentences padded to the longest of all)."""
    lengths = batch["attention_mask"].sum(1)
    order = torch.argsort(lengths)
    for i in range(0, len(order), size):
        rows = order[i:i + size]
        width = int(lengths[rows].max())
        yield {k: v[rows, :width] for k, v in batch.items()}


def head_importance(tg: tagging.Tagger, batch: dict) -> np.ndarray:
    """|dL/dgate| summed over the set, L2-normalised per layer -> [layers, heads]."""
    gates = torch.ones(*n_heads(tg.model), requires_grad=True)
    tg.model.zero_grad(set_to_none=True)
    with head_gates(tg.model, gates), torch.enable_grad():
        for b in _batches(batch):
            logits = tg.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.float()
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), b["labels"].view(-1),
                                                     ignore_index=-100, reduction="sum")
            loss.backward()
    tg.model.zero_grad(set_to_none=True)
    imp = gates.grad.abs()
    return (imp / imp.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()


@torch.no_grad()
def accuracy(tg: tagging.Tagger, batch: dict, gates: torch.Tensor | None = None) -> float:
    """Label accuracy over the labelled words, with the given heads gated."""
    gates = torch.ones(*n_heads(tg.model)) if gates is None else gates
    right = total = 0
    with head_gates(tg.model, gates):
        for b in _batches(batch):
            with precision.autocast("tagging"):  # bf16 where the CPU has it; the importance gradients stay fp32
                pred = tg.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits.argmax(-1)
            keep = b["labels"] != -100
            right += (pred[keep] == b["labels"][keep]).sum().item()
            total += keep.sum().item()
    return right / total


def gates_without(shape: tuple[int, int], pruned: list[tuple[int, int]]) -> torch.Tensor:
    """Gates with the given (layer, head) pairs at 0; refuses to empty a layer."""
    gates = torch.ones(*shape)
    for layer, head in pruned:
        if not (0 <= layer < shape[0] and 0 <= head < shape[1]):
            raise InputError(f"There is no head {head + 1} in layer {layer + 1} (the model has {shape[0]} layers "
                             f"x {shape[1]} heads).")
        gates[layer, head] = 0
    empty = [i + 1 for i in range(shape[0]) if gates[i].sum() == 0]
    if empty:
        raise InputError(f"That would prune every head of layer(s) {', '.join(map(str, empty))}; "
                         f"keep at least one head per layer.")
    return gates


def pruning_order(importance: np.ndarray) -> list[tuple[int, int]]:
    """Least important first, skipping a layer's last head (a layer is never emptied)."""
    left = {i: importance.shape[1] for i in range(importance.shape[0])}
    order = []
    for flat in np.argsort(importance, axis=None, kind="stable"):
        layer, head = divmod(int(flat), importance.shape[1])
        if left[layer] > 1:
            order.append((layer, head))
            left[layer] -= 1
    return order


@dataclass
class PruningCurve:
    model: str
    importance: np.ndarray  # [layers, heads]
    fractions: list[float]  # of all heads pruned
    accuracies: list[float]
    pruned_heads: list[list[tuple[int, int]]]
    n_words: int


def pruning_curve(model: str = "embedded-upos", path: str | None = None, limit: int = 100,
                  fractions=FRACTIONS, progress=None, order: str = "importance", seed: int = 0) -> PruningCurve:
    """Accuracy as heads are pruned, least important first (order="random": a seeded random order,
    the baseline that shows whether importance is worth computing)."""
    tg = private_tagger(model)
    sents = load_labelled(model, path)[:limit]
    if not sents:
        raise InputError("The labelled file has no sentences.")
    batch = encode_labelled(tg, sents)
    imp = head_importance(tg, batch)
    ranking = imp if order == "importance" else np.random.default_rng(seed).random(imp.shape)
    order, total = pruning_order(ranking), imp.size
    accs, done, used = [], [], []
    for i, f in enumerate(fractions):
        k = min(round(f * total), len(order))
        pruned = order[:k]
        accs.append(round(accuracy(tg, batch, gates_without(imp.shape, pruned)), 4))
        done.append(round(k / total, 4))
        used.append(pruned)
        if progress:
            progress((i + 1) / len(fractions), f"pruned {k} of {total} heads")
    return PruningCurve(model, imp, done, accs, used, int((batch["labels"] != -100).sum()))


def prune_and_score(model: str, path: str | None, pruned: list[tuple[int, int]]) -> tuple[float, float, int]:
    """(accuracy with all heads, accuracy with `pruned` heads gated off, number pruned) on a labelled set."""
    tg = private_tagger(model)
    batch = encode_labelled(tg, load_labelled(model, path))
    gates = gates_without(n_heads(tg.model), pruned)
    return accuracy(tg, batch), accuracy(tg, batch, gates), int((gates == 0).sum())
