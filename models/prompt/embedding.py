"""The embedding backend: no prompt; the sentence encoder's similarity to each label's description, or SetFit."""
from __future__ import annotations


import torch

from models import batching, sentence_embedding
from models.errors import InputError
from models.prompt.spec import PromptSpec, spec_key


def embedding_label_logprobs(spec: PromptSpec, texts: list[str], setfit=None,
                             word_scores: list | None = None) -> tuple[torch.Tensor, str]:
    """Zero-shot: similarity to the label descriptions; with a SetFit model: its head."""
    if setfit is not None and setfit.head is not None:
        missing = [l for l in spec.labels if l not in setfit.labels]
        if missing:
            raise InputError(f"The SetFit model was trained on labels {', '.join(setfit.labels)}; it cannot score "
                             f"{', '.join(missing)}. Train it again on examples of these labels.")
        return sentence_embedding.head_logprobs(setfit, spec.labels, texts), \
            f"SetFit head ({setfit.meta['tuned_on']} examples) on the embedding of: {texts[0]}"
    enc = sentence_embedding.load()
    if len(texts) == 1:  # one visitor's text: concurrent ones share one encoder pass (models/batching.py)
        row, scores, desc = batching.batcher("embedding-zero-shot", spec_key(spec)).run(
            texts[0], lambda many: _zero_shot_many(enc, spec, many))
        lp = row[None]
        if word_scores is not None:
            word_scores += scores
    else:
        lp, desc, _ = sentence_embedding.zero_shot_logprobs(enc, spec.template, spec.verbalizer, texts)
    shown = f"cosine(embedding of: {texts[0]} | " + " | ".join(d for ds in desc.values() for d in ds) + ")"
    return lp, shown


def _zero_shot_many(enc, spec: PromptSpec, texts: list[str]) -> list[tuple]:
    """Per text: its label log-probabilities, its cosine to every description (the word scores), the descriptions."""
    lp, desc, sims = sentence_embedding.zero_shot_logprobs(enc, spec.template, spec.verbalizer, texts)
    pairs = [(l, w, d) for (l, ds), ws in zip(desc.items(), spec.verbalizer.values()) for w, d in zip(ws, ds)]
    return [(lp[i], [{"label": l, "word": w, "pieces": [d], "logprob": round(sim, 4)}
                     for (l, w, d), sim in zip(pairs, sims[i].tolist())], desc) for i in range(len(texts))]
