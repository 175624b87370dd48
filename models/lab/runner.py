"""A lab run as the tab drives it: one training at a time per process (later runs wait and are told their
place), the strategies trained one after another in a background thread, every curve point readable while
they train, Cancel at any moment, and the trained variants kept in the model store (under its memory
budget) until the visitor leaves or KEEP_SECONDS pass.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import torch

from models.errors import InputError
from models.lab import data, strategies, tokens, train
from models.lab.data import TaskData
from models.loading import MODEL_CACHE, cached_load

KEEP_SECONDS = 30 * 60  # a visitor's trained variants are dropped after this (or when the session ends)
MAX_STRATEGIES, MAX_SECONDS = 12, 120

_TRAINING = threading.Lock()  # one lab training at a time per process: the other tabs keep the other core
_queue: list[str] = []  # run ids waiting or training, in arrival order
_queue_lock = threading.Lock()
_ids = itertools.count(1)
_RUNS: dict[str, "LiveRun"] = {}  # run id -> run, until dropped (the visitor left) or KEEP_SECONDS old


@dataclass
class LiveRun:
    id: str
    task: TaskData
    strategies: list[str]
    seconds: float
    seed: int
    points: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)  # (step, loss, dev)
    lines: dict[str, str] = field(default_factory=dict)  # strategy -> its progress line
    results: list[train.RunResult] = field(default_factory=list)
    peak_mb: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    created: float = field(default_factory=time.time)
    curve_sizes: list[int] = field(default_factory=list)  # learning curve: also train on these many rows
    curve: list[dict] = field(default_factory=list)  # {"strategy", "examples", "metric"} per size

    @property
    def position(self) -> int:
        """0: training now; n: n runs ahead of this one."""
        with _queue_lock:
            return _queue.index(self.id) if self.id in _queue else 0

    def cancel(self) -> None:
        self.stop.set()


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


CURVE_SIZES = (16, 64, 256, 1000)


def start(task: TaskData, names: list[str], seconds: float, seed: int = 0, learning_curve: bool = False) -> LiveRun:
    """Check the choices, queue the run and start its thread; returns at once."""
    if not names:
        raise InputError("Pick at least one strategy.")
    if len(names) > MAX_STRATEGIES:
        raise InputError(f"At most {MAX_STRATEGIES} strategies in one run.")
    for n in names:
        why = strategies.unsupported(strategies.get(n), task.kind, task.encoder)
        if why:
            raise InputError(f"{why} Untick it, or pick another task.")
    if not 5 <= seconds <= MAX_SECONDS:
        raise InputError(f"The time budget per strategy must be between 5 and {MAX_SECONDS} seconds.")
    for old in [r for r in list(_RUNS.values()) if time.time() - r.created > KEEP_SECONDS]:
        drop(old.id)
    run = LiveRun(f"lab-{next(_ids)}", task, list(dict.fromkeys(names)), float(seconds), int(seed))
    _RUNS[run.id] = run
    if learning_curve:  # the sizes below the run's own (which is the curve's last point)
        run.curve_sizes = [n for n in CURVE_SIZES if n < len(task.train)]
    for n in run.strategies:
        run.points[n], run.lines[n] = [], "waiting"
    with _queue_lock:
        _queue.append(run.id)
    threading.Thread(target=_work, args=(run,), name=run.id, daemon=True).start()
    return run


def _work(run: LiveRun) -> None:
    try:
        while not _TRAINING.acquire(timeout=0.5):
            if run.stop.is_set():
                return
        threads = torch.get_num_threads()
        try:
            # torch's thread pool is the process's: one core while the lab trains, so the other tabs keep one
            torch.set_num_threads(1)
            for name in run.strategies:
                if run.stop.is_set():
                    run.lines[name] = "cancelled before it started"
                    continue
                _train_one(run, name)
            _learning_curve(run)
        finally:
            torch.set_num_threads(threads)
            _TRAINING.release()
    except InputError as exc:
        run.error = str(exc)
    except Exception as exc:  # a bug: the run says so, the app keeps serving
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        with _queue_lock:
            if run.id in _queue:
                _queue.remove(run.id)
        run.finished.set()


def _train_one(run: LiveRun, name: str) -> None:
    base = peak = _rss_mb()
    t0 = time.perf_counter()

    def point(step: int, loss: float, dev: float) -> None:
        nonlocal peak
        peak = max(peak, _rss_mb())
        run.points[name].append((step, loss, dev))
        run.lines[name] = (f"step {step}, loss {loss:.3f}, dev {run.task.metric_name} {dev:.3f}, "
                           f"{time.perf_counter() - t0:.0f} of {run.seconds:.0f} s")

    run.lines[name] = "training"
    res = train.run(name, run.task, run.seconds, run.seed, should_stop=run.stop.is_set, on_point=point)
    run.peak_mb[name] = round(max(peak, _rss_mb()) - base, 1)
    stopped = " (cancelled)" if run.stop.is_set() else ""
    run.lines[name] = (f"done{stopped}: dev {run.task.metric_name} {res.metric:.3f} after {res.steps} steps, "
                       f"{res.seconds:.0f} s")
    if res.model is not None:
        keep(run.id, name, res.model)
    res.model = None  # the store holds it (and may drop it under memory pressure)
    run.results.append(res)


def _learning_curve(run: LiveRun) -> None:
    """Each strategy again on the first n training rows for every n of curve_sizes (half the time budget each:
    small sets need few steps), then the full run's own result as the last point."""
    from dataclasses import replace

    for res in run.results:
        run.curve.append({"strategy": res.strategy, "examples": len(run.task.train), "metric": round(res.metric, 4)})
    for n in run.curve_sizes:
        for name in run.strategies:
            if run.stop.is_set():
                return
            run.lines[name] = f"learning curve: training on {n} rows"
            res = train.run(name, replace(run.task, train=run.task.train[:n]), run.seconds / 2, run.seed,
                            should_stop=run.stop.is_set)
            run.curve.append({"strategy": name, "examples": n, "metric": round(res.metric, 4)})
            run.lines[name] = f"learning curve: {n} rows -> dev {run.task.metric_name} {res.metric:.3f}"
    run.curve.sort(key=lambda r: (r["strategy"], r["examples"]))


def keep(run_id: str, strategy: str, model) -> None:
    cached_load(("lab", run_id, strategy), lambda: model, evictable=True)


def kept(run_id: str, strategy: str):
    """A trained variant still in the store, else None (dropped for memory, time, or the visitor left)."""
    return MODEL_CACHE.peek(("lab", run_id, strategy))


def get_run(run_id: str | None) -> LiveRun | None:
    return _RUNS.get(run_id) if run_id else None


def drop(run_id: str | None) -> None:
    """Stop a run and drop its trained variants (the visitor left, started a new run, or time ran out)."""
    run = _RUNS.pop(run_id, None) if run_id else None
    if run is not None:
        run.cancel()
        for name in run.strategies:
            MODEL_CACHE.forget(("lab", run.id, name))


@torch.no_grad()
def classify(run: LiveRun, sentence: str) -> list[dict]:
    """Every trained variant of `run` on one sentence: label and probability per strategy (a token task: the
    entities each variant finds, and every word's tag)."""
    sentence = (sentence or "").strip()
    if not sentence:
        raise InputError("Write a sentence for the trained variants to classify.")
    rows = []
    for res in run.results:
        model = kept(run.id, res.strategy)
        if model is None:
            rows.append({"strategy": res.strategy, "label": "(dropped: train again)", "probability": None})
            continue
        if run.task.kind == data.TOKENS:
            rows.append({"strategy": res.strategy, **_tag(model, sentence, run.task.labels)})
            continue
        model.eval()
        enc = model.tokenizer([sentence], truncation=True, max_length=run.task.max_len, return_tensors="pt")
        probs = model(enc["input_ids"], enc["attention_mask"]).softmax(-1)[0]
        best = int(probs.argmax())
        rows.append({"strategy": res.strategy, "label": run.task.labels[best], "probability": round(float(probs[best]), 3)})
    return rows


def _tag(model, sentence: str, labels: list[str]) -> dict:
    from seqeval.metrics.sequence_labeling import get_entities

    from models import tagging

    words = [w for w, _, _ in tagging.split_words(model.tokenizer, sentence)][:200]  # the tagging tab's words
    tags = tokens.tag_words(model, words, labels)
    found = [f"{' '.join(words[s:e + 1])} ({kind})" for kind, s, e in get_entities(tags)]
    return {"entities": ", ".join(found) or "(none)", "tags": " ".join(f"{w}/{t}" for w, t in zip(words, tags))}


def trained_tensors(run: LiveRun, strategy: str) -> dict[str, torch.Tensor] | None:
    """What a strategy trained (head, mix, adapters or the whole encoder), fp16: its download."""
    model = kept(run.id, strategy)
    if model is None:
        return None
    return {n: p.detach().half().contiguous() for n, p in model.named_parameters() if p.requires_grad}
