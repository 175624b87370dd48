"""The supervised backend: no prompt, no verbalizer; MiniLM fully fine-tuned on every SST-2 training row by
the fine-tuning lab (`python -m models.lab supervised`, models/lab/supervised.py), so a visitor sees how far
zero- and few-shot prompting are from full supervision on the same sentence."""
from __future__ import annotations

import math
from pathlib import Path

import torch

from models import batching, embedded, registry
from models.errors import InputError, WeightsError
from models.lab import strategies
from models.lab.model import MAX_LEN, LabModel
from models.loading import cached_load
from models.prompt.spec import PromptSpec

TASK = "sentiment"  # the registry task of fine-tuned sentence classifiers
DEFAULT = registry.names(TASK)[0]


def read(path: str | Path) -> tuple[LabModel, list[str], dict]:
    """The classifier a `models.lab supervised` run saved (eval mode), its labels in the head's order, and its
    metadata. Tensors the run froze are not stored: they are the encoder's own."""
    state, meta = embedded.read_adapter(path)
    model = LabModel(strategies.get(meta.get("strategy", "full")), len(meta["labels"]))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or set(missing) - set(meta.get("frozen", [])):
        raise WeightsError(f"{Path(path).name} does not fit the lab's model: missing={missing[:3]} "
                           f"unexpected={unexpected[:3]}")
    return model.eval(), list(meta["labels"]), meta


def load_supervised(name: str = DEFAULT) -> tuple[LabModel, list[str], dict]:
    path = embedded.WEIGHTS_DIR / registry.get(TASK, name).location
    return cached_load((TASK, name), lambda: read(path), evictable=True)


@torch.no_grad()
def probabilities(model: LabModel, texts: list[str]) -> torch.Tensor:
    """[n, labels] class probabilities; texts cut at the lab's 64 tokens, as in training."""
    enc = model.tokenizer(texts, truncation=True, max_length=MAX_LEN, padding=True, return_tensors="pt")
    return model(enc["input_ids"], enc["attention_mask"]).float().softmax(-1)


def supervised_label_logprobs(spec: PromptSpec, texts: list[str],
                              word_scores: list | None = None) -> tuple[torch.Tensor, str]:
    """The classifier's log-probabilities of the spec's labels (matched by name: negative / positive)."""
    model, labels, meta = load_supervised()
    unknown = [l for l in spec.labels if l.lower() not in labels]
    if unknown:
        raise InputError(f"The supervised backend is a sentiment classifier trained on SST-2 with the labels "
                         f"{' and '.join(labels)}; it cannot score {', '.join(unknown)}. Pick a movie or review "
                         f"sentiment preset, or another backend for these labels.")
    if len(texts) == 1:  # one visitor's text: concurrent ones share one pass (models/batching.py)
        probs = batching.batcher(TASK, DEFAULT).run(texts[0], lambda many: list(probabilities(model, many)))[None]
    else:
        probs = probabilities(model, texts)
    probs = probs[:, [labels.index(l.lower()) for l in spec.labels]]
    if word_scores is not None:  # no verbalizer words: the classifier's own probability per label
        for label, p in zip(spec.labels, probs[0].tolist()):
            word_scores.append({"label": label, "word": "(classifier)", "pieces": [],
                                "logprob": round(math.log(max(p, 1e-12)), 4)})
    shown = (f"no prompt (the template and words are not used): MiniLM fine-tuned on {meta.get('train_rows', 'all')} "
             f"SST-2 sentences reads: {texts[0]}")
    return probs.clamp_min(1e-12).log(), shown
