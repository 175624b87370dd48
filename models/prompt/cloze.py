"""The cloze backend: a masked LM scores each label's verbalizer words at the template's mask."""
from __future__ import annotations

import math

import torch

from models.errors import InputError
from models.prompt.spec import MAX_PIECES, PromptSpec, fill_template


def build_cloze_prompt(lm, spec: PromptSpec, text: str, n_masks: int,
                       demos: list[tuple[str, str]] = ()) -> str:
    """Query prompt with n mask tokens, followed by LM-BFF demonstrations (one per example)."""
    tok = lm.tokenizer
    parts = [fill_template(spec.template, text, " ".join([tok.mask_token] * n_masks))]
    for demo_text, label in demos:
        parts.append(fill_template(spec.template, demo_text, spec.verbalizer[label][0]))
    return f" {tok.sep_token} ".join(parts)


def encode_prompt(lm, prompt: str, offsets: bool = False):
    """The prompt's ids as the cloze backend runs them (and, for attribution, each token's character span)."""
    enc = lm.tokenizer(prompt, truncation=False, return_offsets_mapping=offsets)
    ids = enc["input_ids"]
    if len(ids) > lm.max_tokens:
        raise InputError(f"The prompt is {len(ids)} tokens; the model reads at most {lm.max_tokens}.")
    return (ids, enc["offset_mapping"]) if offsets else ids


def word_pieces(tok, word: str) -> list[int]:
    # a leading space makes BPE vocabularies (RoBERTa) use their word-initial pieces
    return tok(" " + word, add_special_tokens=False)["input_ids"]


def cloze_label_logprobs(lm, spec: PromptSpec, texts: list[str], demos: list[tuple[str, str]] = (),
                         grad: bool = False, word_scores: list | None = None,
                         scores_per_text: list[list] | None = None) -> torch.Tensor:
    """[n_texts, n_labels] log of each label's mean word probability at the mask. `word_scores` gets the first
    text's score of every verbalizer word; `scores_per_text` (one list per text) every text's."""
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
            seqs = [encode_prompt(lm, build_cloze_prompt(lm, spec, t, n, demos)) for t in texts]
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
    targets = scores_per_text if scores_per_text is not None else [word_scores] if word_scores is not None else []
    for i, target in enumerate(targets):
        for (l, w), p in pieces.items():
            target.append({"label": l, "word": w, "pieces": tok.convert_ids_to_tokens(p),
                           "logprob": round(float(word_lp[(i, (l, w))]), 4)})
    return torch.stack(out)
