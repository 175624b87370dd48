"""Embedding projector: embed a data set with a tab's model, project to 2-D (PCA, or UMAP when
umap-learn is installed), and place an edited datapoint in the same projection."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from models import precision, readers
from models.errors import InputError
from models.inside import load
from models.trace import encode_texts
from models.text_checks import clean_text

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sst2-300.tsv"
SAMPLE_LABELS = {"0": "negative", "1": "positive"}
MAX_ROWS = 500  # more points are sampled (seeded) down to this, with a notice
MAX_TEXT_TOKENS = 128
TEXT_COLUMNS = ("text", "sentence", "review", "text_a", "content")
METHODS = ("PCA", "UMAP")


def umap_available() -> bool:
    """umap-learn is optional; found without importing it (its import compiles numba code for seconds)."""
    import importlib.util

    return importlib.util.find_spec("umap") is not None


_warm = threading.Event()


def warm_up_umap() -> None:
    """Compile UMAP's numba code on a few random points (14 s here the first time, 0.6 s after), so the
    first real UMAP request does not pay for it. app.py runs this in the background after start."""
    if _warm.is_set() or not umap_available():
        return
    import umap

    x = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    umap.UMAP(n_components=2, random_state=0, n_neighbors=10).fit(x)
    _warm.set()


def read_table(path: str | Path, seed: int = 0, max_rows: int | None = None,
               sample: bool = True) -> tuple[list[str], list[str] | None, list[str]]:
    """A CSV/TSV read as data -> (texts, labels or None, notices). The text column must be named 'text' (or
    sentence / review / text_a / content); 'label' is used when present. Beyond max_rows: a seeded random sample
    (sample=True, the projector) or the first max_rows rows in order (batch mode)."""
    df = readers.read_columns(path, {"text": TEXT_COLUMNS[1:]}, {"label": ()})
    df = df[df["text"].str.strip() != ""]
    notices = []
    max_rows = MAX_ROWS if max_rows is None else max_rows
    if len(df) > max_rows and sample:
        notices.append(f"The file has {len(df):,} rows; a random sample of {max_rows} (seed {seed}) is shown.")
        df = df.sample(max_rows, random_state=seed)
    elif len(df) > max_rows:
        notices.append(f"The file has {len(df):,} rows; the first {max_rows} are run.")
        df = df.head(max_rows)
    labels = df["label"].str.strip().tolist() if "label" in df else None
    if labels and path == SAMPLE:  # SST-2's 0/1 by name, as the "prediction" colouring names them
        labels = [SAMPLE_LABELS.get(x, x) for x in labels]
    return df["text"].tolist(), labels, notices


@torch.no_grad()
def embed(texts: list[str], model: str, batch_size: int = 32) -> np.ndarray:
    """Mean of the last hidden layer over each text's tokens -> [n, hidden]."""
    lm = load(model)
    base = lm.model.base_model
    out = []
    for i in range(0, len(texts), batch_size):
        enc = encode_texts(lm.tokenizer, texts[i:i + batch_size], MAX_TEXT_TOKENS)
        with precision.autocast("embeddings"):  # bf16 where the CPU has it
            h = base(**enc).last_hidden_state.float()
        m = enc["attention_mask"].unsqueeze(-1).float()
        out.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(out)


@dataclass
class Projection:
    model: str
    method: str
    texts: list[str]
    labels: list[str] | None
    points: np.ndarray  # [n, 2]
    reducer: object = field(repr=False)
    notices: list[str] = field(default_factory=list)
    predictions: list[str] | None = None  # the sentiment prompt's labels, filled when first coloured by them

    def place(self, text: str) -> np.ndarray:
        """Where an (edited) text lands in this projection."""
        text, _ = clean_text(text, max_chars=10_000)
        return self.reducer.transform(embed([text], self.model))[0]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"index": range(len(self.texts)), "x": self.points[:, 0], "y": self.points[:, 1],
                             "label": self.labels or ["(none)"] * len(self.texts), "text": self.texts})


def project(texts: list[str], labels: list[str] | None, model: str = "fill-mask: embedded-general",
            method: str = "PCA", seed: int = 0, notices=()) -> Projection:
    if len(texts) < 3:
        raise InputError("Give at least 3 texts to project.")
    x = embed(texts, model)
    if method == "PCA":
        from sklearn.decomposition import PCA

        reducer = PCA(n_components=2, random_state=seed, svd_solver="full").fit(x)
    elif method == "UMAP":
        if not umap_available():
            raise InputError("UMAP needs the umap-learn package, which is not installed here; use PCA.")
        import umap

        reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(texts) - 1)).fit(x)
    else:
        raise InputError(f"Unknown projection '{method}'; choose one of {', '.join(METHODS)}.")
    points = reducer.transform(x) if method == "PCA" else reducer.embedding_
    return Projection(model, method, texts, labels, np.asarray(points, dtype=np.float64), reducer, list(notices))


def sentiment_predictions(texts: list[str], model: str) -> list[str]:
    """Colour by prediction: the prompt tab's SST-2 cloze prompt on the chosen masked LM."""
    from models import prompt_cls

    from models import registry
    from models.inside import VIEW_TASKS

    task, name = registry.parse_choice(model, VIEW_TASKS)
    if task != "fill-mask":
        raise InputError("Colouring by prediction uses the sentiment cloze prompt: pick a fill-mask model.")
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    probs, _, _ = prompt_cls.label_probabilities(spec, texts, "cloze", name, calibrate=True)
    return [spec.labels[i] for i in probs.argmax(-1)]
