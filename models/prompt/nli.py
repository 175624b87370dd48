"""The nli backend: an NLI model's entailment of the template's hypothesis (Hub facebook/bart-large-mnli)."""
from __future__ import annotations


import torch

from models import registry
from models.loading import cached_load, from_hub
from models.prompt.spec import NLI_HUB_ID, PromptSpec


def load_nli(name: str = NLI_HUB_ID):
    repo = registry.get("nli", name).location

    def build():
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        tok = from_hub(AutoTokenizer.from_pretrained, repo)
        model = from_hub(AutoModelForSequenceClassification.from_pretrained, repo, use_safetensors=True)
        model.eval()
        return tok, model

    return cached_load(("nli", name), build, evictable=True)


@torch.no_grad()
def nli_label_logprobs(spec: PromptSpec, texts: list[str]) -> tuple[torch.Tensor, str]:
    tok, model = load_nli()
    ent = next(i for i, l in model.config.id2label.items() if l.lower().startswith("entail"))
    hyp_tpl = spec.template.replace("{text}", "").strip()
    rows = []
    for text in texts:
        hyps = [hyp_tpl.replace("{mask}", ws[0]) for ws in spec.verbalizer.values()]
        enc = tok([text] * len(hyps), hyps, return_tensors="pt", padding=True, truncation=True)
        rows.append(model(**enc).logits[:, ent].float().log_softmax(0))
    return torch.stack(rows), f"premise: {texts[0]} | hypothesis: {hyp_tpl}"
