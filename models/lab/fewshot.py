"""The prompt tab's few-shot methods entered in the lab's comparison, on the same rows: SetFit (contrastive
pair tuning of the sentence encoder, then a logistic-regression head) and prompt-based fine-tuning (the
masked LM's cloze scores over the preset's label words, its bias and LayerNorm terms tuned). Both are
few-shot methods: they take the first FEWSHOT_PER_LABEL training rows of each label, not all of them."""
from __future__ import annotations

import time

import numpy as np

from models.errors import InputError
from models.lab.data import TaskData

FEWSHOT_PER_LABEL = 32


def shots(data: TaskData) -> list[tuple[str, str]]:
    out, count = [], {}
    for text, label in data.train:
        if count.get(label, 0) < FEWSHOT_PER_LABEL:
            out.append((text, data.labels[label]))
            count[label] = count.get(label, 0) + 1
    return out


def run(name: str, data: TaskData, seed: int = 0) -> dict:
    """Train and evaluate one few-shot method; returns the fields of the lab's RunResult (no curves: these
    train in one go; `steps` counts the rows they trained on)."""
    from models import prompt_cls, sentence_embedding

    examples, t0 = shots(data), time.perf_counter()
    if name == "setfit":
        spec = prompt_cls.make_spec("{text} {mask}", [(l, l) for l in data.labels])  # label order only
        tuned = sentence_embedding.setfit(examples, contrastive=True, seed=seed)
        backend, model = "embedding", None
        trainable = sum(p.numel() for p in tuned.model.parameters()) + int(np.size(tuned.head.coef_)) + len(data.labels)
    else:  # prompt-based fine-tuning with the SST-2 preset's template and label words
        spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
        if sorted(spec.labels) != sorted(data.labels):
            raise InputError(f"Prompt-based fine-tuning needs label words for each label; the SST-2 preset has "
                             f"{', '.join(spec.labels)}, this task {', '.join(data.labels)}.")
        model = prompt_cls.PRESET_MODELS[prompt_cls.SST2_PRESET]
        tuned = prompt_cls.prompt_finetune(spec, examples, model, epochs=10, seed=seed)
        backend = "cloze"
        trainable = sum(p.numel() for n, p in tuned.model.named_parameters()
                        if (n.endswith(".bias") or "LayerNorm" in n) and "embeddings" not in n)
    seconds = time.perf_counter() - t0
    probs, _, _ = prompt_cls.label_probabilities(spec, [t for t, _ in data.dev], backend,
                                                 model or prompt_cls.fill_mask.DEFAULT_MODEL, tuned=tuned)
    pred = [spec.labels[int(p.argmax())] for p in probs]
    metric = float(np.mean([p == data.labels[l] for p, (_, l) in zip(pred, data.dev)]))
    return {"strategy": name, "task": data.task, "metric": metric, "trainable_params": trainable,
            "stored_mb": trainable * 2 / 1e6, "seconds": seconds, "steps": len(examples), "epochs": 1.0}
