"""Layer-wise predictions ("logit lens") for the masked LM: the model's own MLM head applied to
the hidden state of every layer at each mask. The last layer reproduces the tab's prediction."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models import fill_mask
from models.errors import InputError


@dataclass
class LayerPrediction:
    layer: int  # 0 = embeddings, 1..L = transformer blocks
    mask: int  # 0-based mask number
    tokens: list[str]
    scores: list[float]
    final_prob: float  # probability this layer gives to the last layer's top-1 token


def mlm_head(model):
    """The MLM head as a function hidden [n, H] -> logits [n, V] (BERT, RoBERTa, DistilBERT)."""
    if hasattr(model, "cls"):  # BertForMaskedLM
        return model.cls
    if hasattr(model, "lm_head"):  # RobertaForMaskedLM
        return model.lm_head
    if hasattr(model, "vocab_projector"):  # DistilBertForMaskedLM
        return lambda h: model.vocab_projector(model.vocab_layer_norm(model.activation(model.vocab_transform(h))))
    raise InputError(f"{type(model).__name__}: no masked-LM head found for the logit lens.")


@torch.no_grad()
def logit_lens(text: str, model: str = fill_mask.DEFAULT_MODEL, top_k: int = 5) -> tuple[fill_mask.FillMaskResult,
                                                                                         list[LayerPrediction]]:
    result = fill_mask.predict(text, model, top_k=top_k, capture=True)
    lm = fill_mask.load(model)
    head = mlm_head(lm.model)
    rows = []
    final_ids = [c.candidates[0].token_id for c in result.predictions]
    for layer, hidden in enumerate(result.hidden_states):
        h = torch.from_numpy(np.ascontiguousarray(hidden[result.mask_positions]))
        probs = head(h.to(next(lm.model.parameters()).dtype)).float().softmax(-1)
        top = probs.topk(top_k, dim=-1)
        for m in range(len(result.mask_positions)):
            rows.append(LayerPrediction(layer, m, [fill_mask.display_token(lm.tokenizer, int(i)) for i in top.indices[m]],
                                        [round(float(s), 4) for s in top.values[m]],
                                        round(float(probs[m, final_ids[m]]), 5)))
    return result, rows
