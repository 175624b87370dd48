"""Corpus search by token context (exBERT's signature view): pick a token of your sentence and a layer, get
the token contexts of a corpus whose hidden states at that layer are nearest (cosine), with their
neighbouring words and what the model predicts there.

The corpus is the built-in samples (300 SST-2 movie snippets, 100 CoNLL-2003 news sentences, 100 UD English
Web Treebank sentences: about 500 sentences, 9k tokens). Its index (every token's hidden state at every layer,
unit-normalised, fp16) is built in memory the first time a model is searched, in a few seconds, and kept;
an exact search over 9k vectors is a single matrix product (well under a millisecond), so no approximate
index (FAISS) is needed at this size.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models import readers, registry
from models.errors import InputError
from models.inside import load, task_trace
from models.inside.attention import MAX_DRAW_TOKENS
from models.trace import encode_texts, model_inputs
from models.loading import cached_load
from models.text_checks import clean_text

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
MAX_K = 50


@functools.lru_cache(maxsize=1)  # read once: every search and factor lookup needs it
def corpus_sentences() -> tuple[tuple[str, str], ...]:
    """(source, sentence) of the built-in samples."""
    from models.inside import projector

    texts, _, _ = projector.read_table(SAMPLES / "sst2-300.tsv")
    out = [("SST-2", t) for t in texts]
    out += [("CoNLL-2003", " ".join(w)) for w, _ in readers.read_conll(SAMPLES / "conll2003-testa-100.txt")]
    out += [("UD EWT", " ".join(w)) for w, _ in readers.read_conllu(SAMPLES / "ud-ewt-dev-100.conllu")]
    return tuple(out)


@dataclass
class CorpusIndex:
    vectors: np.ndarray  # [layers + 1, n_tokens, hidden] fp16, unit length
    sentence: np.ndarray  # [n_tokens] sentence number
    position: np.ndarray  # [n_tokens] token position in its sentence
    tokens: list[list[str]]  # the tokens of every sentence
    sources: list[str]
    seconds: float


def _mlm_head(model):
    from models.inside.logit_lens import mlm_head

    try:
        return mlm_head(model)
    except InputError:
        return None


@torch.no_grad()
def build_index(choice: str, batch_size: int = 32) -> CorpusIndex:
    import time

    t0 = time.time()
    m = load(choice)
    corpus = corpus_sentences()
    chunks, sent_ids, positions, all_tokens = [], [], [], []
    for start in range(0, len(corpus), batch_size):
        chunk = [s for _, s in corpus[start:start + batch_size]]
        enc = encode_texts(m.tokenizer, chunk, MAX_DRAW_TOKENS)
        batch = model_inputs(enc, m.model)
        out = m.model(**batch, output_hidden_states=True)
        hs = torch.stack(out.hidden_states)  # [L+1, b, seq, H]
        special = set(m.tokenizer.all_special_ids)
        for b in range(len(chunk)):
            ids = enc["input_ids"][b].tolist()
            keep = [j for j, t in enumerate(ids) if enc["attention_mask"][b, j] and t not in special]
            all_tokens.append(m.tokenizer.convert_ids_to_tokens(ids[:int(enc["attention_mask"][b].sum())]))
            sent_ids += [start + b] * len(keep)
            positions += keep
            vec = hs[:, b, keep].float()
            vec = vec / vec.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            chunks.append(vec.half())
    return CorpusIndex(torch.cat(chunks, 1).numpy(), np.array(sent_ids), np.array(positions), all_tokens,
                       [s for s, _ in corpus], round(time.time() - t0, 2))


@torch.no_grad()
def predictions_at(choice: str, sentences: list[str], positions: list[int]) -> list[str | None]:
    """What a masked LM predicts at each (sentence, position), unmasked, as exBERT shows it: only for the few
    neighbours shown, so the index build never pays for the 30k-word head."""
    m = load(choice)
    head = _mlm_head(m.model) if m.task == "fill-mask" else None
    if head is None:
        return [None] * len(sentences)
    batch = model_inputs(encode_texts(m.tokenizer, sentences, MAX_DRAW_TOKENS), m.model)
    hidden = m.model(**batch, output_hidden_states=True).hidden_states[-1]
    rows = hidden[torch.arange(len(sentences)), torch.tensor(positions)]
    top = head(rows.to(next(m.model.parameters()).dtype)).argmax(-1).tolist()
    return m.tokenizer.convert_ids_to_tokens(top)


def index_key(choice: str) -> tuple[str, str]:
    return ("corpus-index", choice)


def get_index(choice: str) -> CorpusIndex:
    """Built once per model (two requests arriving together wait for one build), then kept in the model store
    under its memory budget (~54 MB for MiniLM, ~200 MB for a base model), least recently used dropped first."""
    return cached_load(index_key(choice), lambda: build_index(choice), evictable=True)


@dataclass
class Neighbour:
    similarity: float
    token: str
    context: str  # a few tokens either side, the match in [[ ]]
    predicted: str | None
    source: str


@dataclass
class SearchResult:
    model: str
    tokens: list[str]
    query: int
    layer: int
    neighbours: list[Neighbour]
    corpus_tokens: int
    index_seconds: float


def _context(tokens: list[str], at: int, width: int = 6) -> str:
    words = tokens[max(1, at - width):at] + [f"[[{tokens[at]}]]"] + tokens[at + 1:at + 1 + width]
    return " ".join(w for w in words if w not in ("[SEP]", "</s>")).replace(" ##", "")


@torch.no_grad()
def search(text: str, choice: str, query: int, layer: int, k: int = 10) -> SearchResult:
    text, _ = clean_text(text)
    m = load(choice)
    n_layers = m.model.config.num_hidden_layers
    if not 0 <= int(layer) <= n_layers:
        raise InputError(f"Layer {int(layer)} does not exist: {m.name} has layers 0 (embeddings) to {n_layers}.")
    if not 1 <= int(k) <= MAX_K:
        raise InputError(f"Show between 1 and {MAX_K} neighbours.")
    inp = task_trace(m, text)  # what the model's tab reads for this text
    batch, tokens = inp.batch(), inp.tokens
    if not 0 <= int(query) < len(tokens):
        raise InputError(f"Token {int(query)} does not exist: the input has {len(tokens)} tokens (0-{len(tokens) - 1}).")
    out = m.model(**batch, output_hidden_states=True)
    q = out.hidden_states[int(layer)][0, int(query)].float()
    q = (q / q.norm().clamp_min(1e-6)).numpy()
    index = get_index(choice)
    sims = index.vectors[int(layer)].astype(np.float32) @ q
    best = np.argsort(-sims)[:int(k)]
    corpus = corpus_sentences()
    sents, pos = [int(index.sentence[i]) for i in best], [int(index.position[i]) for i in best]
    predicted = predictions_at(choice, [corpus[s][1] for s in sents], pos)
    rows = [Neighbour(round(float(sims[i]), 4), index.tokens[s][p], _context(index.tokens[s], p), pred, index.sources[s])
            for i, s, p, pred in zip(best, sents, pos, predicted)]
    return SearchResult(registry.choice(m.task, m.name), tokens, int(query), int(layer), rows,
                        int(index.vectors.shape[1]), index.seconds)
