"""A prompt: its template, verbalizer (label -> words) and presets, and the result every backend returns."""
from __future__ import annotations

import re
from dataclasses import dataclass


from models import registry
from models.errors import InputError


BACKENDS = ("cloze", "causal-lm", "embedding", "nli", "ensemble", "supervised")
ENSEMBLE = ("embedding", "cloze")  # the members of the ensemble backend
CONTENT_FREE = "N/A"
MAX_LABELS = 20
MAX_PIECES = 5  # a verbalizer word split into more word-pieces than this is refused
NLI_HUB_ID = registry.names("nli")[0]
CAUSAL_LM = registry.names("causal-lm")[0]

SST2_PRESET = "Movie sentiment (SST-2 style)"  # the preset the views and evaluations use
# the template chosen on the SST-2 training pool for the cloze, embedding and ensemble backends (RESULTS.md,
# prompt classification); SmolLM2 (causal-lm) favours "great" after "All in all" and keeps the plain one
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


def spec_key(spec: PromptSpec) -> tuple:
    """What must match for two requests to share a batch: the template and every label's words."""
    return spec.template, tuple((l, tuple(ws)) for l, ws in spec.verbalizer.items())


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


def cut_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words]) + " …"


def fill_template(template: str, text: str, mask: str) -> str:
    return template.replace("{text}", text).replace("{mask}", mask)
