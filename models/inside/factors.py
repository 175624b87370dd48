"""Transformer factors (Yun et al., 2021): every contextual embedding of the embedded masked LM as a sparse sum
of "factors" from one dictionary shared by all layers (learned by recipes/build_transformer_factors.py, shipped
in weights/transformer-factors.safetensors). For a sentence: each token's strongest factors at a layer. For a
factor: its importance by layer and its top-activating contexts in the built-in corpus, as the paper's figures.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.errors import InputError, WeightsError
from models.inside import load, task_trace
from models.inside.attention import MAX_DRAW_TOKENS
from models.trace import encode_texts
from models.text_checks import clean_text

FILE = Path(__file__).resolve().parents[2] / "weights" / "transformer-factors.safetensors"
_CACHE: dict = {}
_LOCK = threading.Lock()


@dataclass
class Factors:
    dictionary: np.ndarray  # [factors, hidden] fp32
    importance: np.ndarray  # [factors, layers + 1]
    top_contexts: np.ndarray  # [factors, layers + 1, top, 2] (sentence, position) in the built-in corpus
    top_activations: np.ndarray  # [factors, layers + 1, top]
    meta: dict


def factors() -> Factors:
    with _LOCK:
        if "f" not in _CACHE:
            from safetensors import safe_open
            from safetensors.numpy import load_file

            if not FILE.is_file():
                raise WeightsError(f"{FILE.name} is missing (build it: python -m recipes.build_transformer_factors "
                                   f"--out weights/{FILE.name}).")
            t = load_file(str(FILE))
            with safe_open(str(FILE), "np") as f:
                meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
            _CACHE["f"] = Factors(t["dictionary"].astype(np.float32), t["importance"].astype(np.float32),
                                  t["top_contexts"], t["top_activations"].astype(np.float32), meta)
        return _CACHE["f"]


def sparse_codes(vectors: np.ndarray) -> np.ndarray:
    """[n, hidden] unit vectors -> [n, factors] sparse codes, as the recipe coded the corpus."""
    from sklearn.decomposition import sparse_encode

    f = factors()
    return sparse_encode(vectors, f.dictionary, algorithm="lasso_lars", alpha=f.meta["alpha"])


@dataclass
class TokenFactors:
    tokens: list[str]
    layer: int
    top: list[list[tuple[int, float]]]  # per token: (factor, activation), strongest first
    model: str


@torch.no_grad()
def token_factors(text: str, layer: int, k: int = 3) -> TokenFactors:
    text, _ = clean_text(text)
    f = factors()
    n_layers = f.importance.shape[1] - 1
    if not 0 <= int(layer) <= n_layers:
        raise InputError(f"Layer {int(layer)} does not exist: the factors cover layers 0 (embeddings) to {n_layers}.")
    m = load(f.meta["model"])
    inp = task_trace(m, text)  # what the model's tab reads for this text
    batch, tokens = inp.batch(), inp.tokens
    h = m.model(**batch, output_hidden_states=True).hidden_states[int(layer)][0].float()
    h = (h / h.norm(dim=-1, keepdim=True).clamp_min(1e-6)).numpy()
    codes = sparse_codes(h)
    top = []
    for row in codes:
        order = np.argsort(-row)[:k]
        top.append([(int(i), round(float(row[i]), 3)) for i in order if row[i] > 0])
    return TokenFactors(tokens, int(layer), top, f.meta["model"])


@dataclass
class FactorDetail:
    factor: int
    importance: list[float]  # by layer, 0 = embeddings
    contexts: list[dict]  # layer, activation, context


def factor_detail(factor: int, layers: list[int] | None = None) -> FactorDetail:
    from models.inside import corpus_search

    f = factors()
    if not 0 <= int(factor) < f.dictionary.shape[0]:
        raise InputError(f"Factor {int(factor)} does not exist: there are {f.dictionary.shape[0]} (0-{f.dictionary.shape[0] - 1}).")
    factor = int(factor)
    m = load(f.meta["model"])
    corpus = corpus_search.corpus_sentences()
    rows = []
    for layer in layers if layers is not None else range(f.importance.shape[1]):
        for (s, p), a in zip(f.top_contexts[factor, layer], f.top_activations[factor, layer]):
            if a <= 0:
                continue
            ids = encode_texts(m.tokenizer, [corpus[int(s)][1]], MAX_DRAW_TOKENS)["input_ids"][0].tolist()
            rows.append({"layer": layer, "activation": round(float(a), 3),
                         "context": corpus_search._context(m.tokenizer.convert_ids_to_tokens(ids), int(p))})
    return FactorDetail(factor, [round(float(x), 4) for x in f.importance[factor]], rows)
