"""Two-stage fine-tuning, stage one: masked-LM steps on the task's own (unlabelled) texts, so the encoder
adapts to the domain before it learns the labels (ULMFiT's LM fine-tuning; DAPT / TAPT, Gururangan et al.
2020). The MLM head is the embedded fill-mask model's (trained on MiniLM's states), tied to the encoder's
word embeddings; transformers' DataCollatorForLanguageModeling masks 15 % of the pieces."""
from __future__ import annotations

import copy
import random
import time

import torch
from torch import nn

from models.lab.model import MAX_LEN

BATCH, LR = 32, 5e-5


def mlm_head(model) -> nn.Module:
    from models import fill_mask

    head = copy.deepcopy(fill_mask.load("embedded-general").model.cls)
    head.predictions.decoder.weight = model.encoder.embeddings.word_embeddings.weight  # tied, as in BERT
    return head


def mlm_steps(model, texts: list[str], steps: int | None = None, seconds: float | None = None,
              seed: int = 0) -> int:
    """Train `model.encoder` (what of it is trainable) with the masked-LM loss for `steps` steps or `seconds`;
    returns the steps run. The head is dropped afterwards: stage two keeps only the encoder."""
    from transformers import DataCollatorForLanguageModeling

    if not steps and not seconds:
        return 0
    tok = model.tokenizer
    collator = DataCollatorForLanguageModeling(tok, mlm_probability=0.15, return_tensors="pt")
    ids = tok(list(texts), truncation=True, max_length=MAX_LEN)["input_ids"]
    head = mlm_head(model)
    params = {id(p): p for p in [*model.encoder.parameters(), *head.parameters()] if p.requires_grad}
    optimiser = torch.optim.AdamW(params.values(), lr=LR, weight_decay=0.01)
    rng, loss_fn, t0, done = random.Random(seed), nn.CrossEntropyLoss(), time.perf_counter(), 0
    model.train()
    while (steps and done < steps) or (not steps and time.perf_counter() - t0 < seconds):
        batch = collator([{"input_ids": ids[i]} for i in rng.sample(range(len(ids)), min(BATCH, len(ids)))])
        x = batch["input_ids"]
        hidden = model.encoder(input_ids=x, attention_mask=(x != tok.pad_token_id).long()).last_hidden_state
        logits = head(hidden)
        loss = loss_fn(logits.view(-1, logits.shape[-1]), batch["labels"].view(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        done += 1
    return done
