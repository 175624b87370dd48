"""Attention weights of every layer and head for one input (what the head and model views draw)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from models import registry
from models.errors import InputError
from models.inside import load, task_trace

MAX_DRAW_TOKENS = 128  # more lines than this make the head view unreadable (and the HTML heavy)


@dataclass
class AttentionResult:
    model: str
    tokens: list[str]
    attentions: np.ndarray  # [layers, heads, seq, seq], each row a distribution over the keys
    notices: list[str] = field(default_factory=list)
    input_ids: list[int] = field(default_factory=list)  # every id the model ran (the drawn ones first)

    def to_dict(self, decimals: int = 4) -> dict:
        return {"model": self.model, "tokens": self.tokens, "notices": self.notices,
                "layers": int(self.attentions.shape[0]), "heads": int(self.attentions.shape[1]),
                "attention": np.round(self.attentions, decimals).tolist()}


@torch.no_grad()
def attention(text: str, model: str = "fill-mask: embedded-general",
              max_tokens: int = MAX_DRAW_TOKENS) -> AttentionResult:
    """The attention of every layer and head on the input the model's tab builds for `text` (the same window,
    mask token and pieces); inputs longer than `max_tokens` are run whole and their first tokens drawn."""
    lm = load(model)
    inp = task_trace(lm, text)
    out = lm.model(**inp.batch(), output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise InputError(f"{lm.name} did not return attention weights (its attention kernel hides them).")
    att = torch.stack([a[0] for a in out.attentions]).float().numpy()
    notices = list(inp.notices)
    if len(inp.tokens) > max_tokens:
        notices.append(f"The input is {len(inp.tokens):,} tokens; only the first {max_tokens} are drawn (the weights "
                       f"are the model's, over all {len(inp.tokens):,}).")
    return AttentionResult(registry.choice(lm.task, lm.name), inp.tokens[:max_tokens],
                           att[:, :, :max_tokens, :max_tokens], notices,
                           inp.input_ids)
