"""BertViz's neuron view: for one layer and head, how a query token's attention comes about. The query vector
q of the chosen token, the key vector k of every token, their element-wise product q*k (whose sum is the
dot product), the scaled score q.k / sqrt(d) and the softmax over the keys (= the attention weights the
model returns, which a test checks).

The vectors are recomputed from the layer's own query/key projections on the hidden states entering the
layer, so they are what the model used (adapters are merged into the embedded models' linear layers).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from models import registry
from models.errors import InputError
from models.inside import encoder_layers, load, task_trace
from models.inside.attention import MAX_DRAW_TOKENS


@dataclass
class NeuronView:
    model: str
    layer: int  # 0-based
    head: int  # 0-based
    query: int  # position of the query token
    tokens: list[str]
    q: np.ndarray  # [d] query vector of the chosen token
    k: np.ndarray  # [seq, d] key vectors
    product: np.ndarray  # [seq, d] q * k
    scores: np.ndarray  # [seq] q.k / sqrt(d)
    weights: np.ndarray  # [seq] softmax of the scores (over the attended keys)
    notices: list[str] = field(default_factory=list)
    input_ids: list[int] = field(default_factory=list)  # every id the model ran


@torch.no_grad()
def neuron_view(text: str, model: str = "fill-mask: embedded-general", layer: int = 0, head: int = 0,
                query: int = 1, max_tokens: int = MAX_DRAW_TOKENS) -> NeuronView:
    m = load(model, "neurons")
    blocks = encoder_layers(m.model)
    cfg = m.model.config
    n_heads = cfg.num_attention_heads
    if not 0 <= int(layer) < len(blocks):
        raise InputError(f"Layer {int(layer) + 1} does not exist: {m.name} has {len(blocks)} layers.")
    if not 0 <= int(head) < n_heads:
        raise InputError(f"Head {int(head) + 1} does not exist: {m.name} has {n_heads} heads per layer.")
    layer, head = int(layer), int(head)
    inp = task_trace(m, text)  # the input the model's tab builds for this text
    batch, tokens, notices = inp.batch(), inp.tokens, list(inp.notices)
    query = int(query)
    if not 0 <= query < len(tokens):
        raise InputError(f"Query token {query} does not exist: the input has {len(tokens)} tokens (0-{len(tokens) - 1}).")
    out = m.model(**batch, output_hidden_states=True)
    hidden = out.hidden_states[layer][0]  # what enters the layer
    attn = blocks[layer].attention.self
    d = cfg.hidden_size // n_heads
    cut = slice(head * d, (head + 1) * d)
    q_all = attn.query(hidden).float()[:, cut]
    k = attn.key(hidden).float()[:, cut]
    q = q_all[query]
    product = q[None, :] * k
    scores = product.sum(-1) / math.sqrt(d)
    keep = batch["attention_mask"][0].bool()
    weights = torch.where(keep, scores, torch.tensor(float("-inf"))).softmax(-1)
    shown = slice(0, max(max_tokens, query + 1))  # keys drawn; the softmax above ran over all of them
    if len(tokens) > shown.stop:
        notices.append(f"The input is {len(tokens):,} tokens; the first {shown.stop} keys are drawn (the weights are "
                       f"the softmax over all {len(tokens):,}).")
    return NeuronView(registry.choice(m.task, m.name), layer, head, query, tokens[shown], q.numpy(),
                      k[shown].numpy(), product[shown].numpy(), scores[shown].numpy(), weights[shown].numpy(), notices,
                      inp.input_ids)
