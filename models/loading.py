"""Checkpoint choice (embedded vs Hub) and lazy, once-per-process, thread-safe loading.

Every task module declares its checkpoints as `Checkpoint`s and loads them through
`cached_load`, so a model is built once per process however many requests ask for it,
and two requests racing for the same model wait for one load instead of doing two.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from models.errors import ModelUnavailable

HUB_HOST = "huggingface.co"
_REACH_TTL_S = 60.0


@dataclass(frozen=True)
class Checkpoint:
    name: str  # what the dropdown, the API and `--model` use
    source: str  # "embedded" (ships with the app, offline) or "hub"
    location: str  # adapter file under weights/ or a Hub repo id
    description: str
    languages: tuple[str, ...] = ("en",)


def find_checkpoint(checkpoints: list[Checkpoint], name: str) -> Checkpoint:
    for ck in checkpoints:
        if ck.name == name:
            return ck
    raise ModelUnavailable(f"Unknown model '{name}'. Choose one of: {', '.join(c.name for c in checkpoints)}.")


_reach_cache: tuple[float, bool] | None = None


def hub_reachable(timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the Hub? Cached for a minute; honours HF_HUB_OFFLINE."""
    global _reach_cache
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    now = time.monotonic()
    if _reach_cache and now - _reach_cache[0] < _REACH_TTL_S:
        return _reach_cache[1]
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
        ok = True
    except OSError:
        ok = False
    _reach_cache = (now, ok)
    return ok


def from_hub(load_fn: Callable[..., Any], repo_id: str, **kwargs) -> Any:
    """`load_fn(repo_id, ...)` from the local HF cache if present, else from the Hub if reachable.

    Never hangs on a dead network: reachability is probed with a short timeout first.
    """
    try:
        return load_fn(repo_id, local_files_only=True, **kwargs)
    except OSError:
        pass  # not in the local cache
    if not hub_reachable():
        raise ModelUnavailable(
            f"'{repo_id}' is a Hugging Face Hub checkpoint and the Hub cannot be reached from this machine "
            f"(offline). Pick one of the embedded models, which work without network.")
    try:
        return load_fn(repo_id, **kwargs)
    except OSError as exc:
        raise ModelUnavailable(f"Could not download '{repo_id}' from the Hub: {exc}") from exc


def load_checkpoint(ck: Checkpoint, embedded_cls, hub_cls) -> tuple[Any, Any, dict]:
    """(model, tokenizer, meta) for a checkpoint: an embedded adapter on the MiniLM encoder built as
    `embedded_cls`, or a Hub model through `hub_cls`. Eager attention, so attentions can be captured."""
    if ck.source == "embedded":
        from models import embedded

        return embedded.load_embedded(embedded.WEIGHTS_DIR / ck.location, embedded_cls, attn_implementation="eager")
    from transformers import AutoTokenizer

    tok = from_hub(AutoTokenizer.from_pretrained, ck.location)
    # safetensors only: a pickled .bin from the Hub could run code when loaded
    model = from_hub(hub_cls.from_pretrained, ck.location, attn_implementation="eager", use_safetensors=True)
    model.eval()
    return model, tok, {}


def model_window(model) -> int:
    """Tokens per forward pass, special tokens included."""
    limit = getattr(model.config, "max_position_embeddings", 512)
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert"):
        limit -= 2  # RoBERTa offsets positions by padding_idx + 1
    return min(limit, 512)


class _Cache:
    def __init__(self) -> None:
        self._items: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        self.load_seconds: dict[Any, float] = {}

    def get(self, key: Any, build: Callable[[], Any]) -> Any:
        if key in self._items:
            return self._items[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._items:  # another thread may have built it while we waited
                t0 = time.perf_counter()
                self._items[key] = build()
                self.load_seconds[key] = time.perf_counter() - t0
        return self._items[key]

    def is_loaded(self, key: Any) -> bool:
        return key in self._items

    def clear(self) -> None:
        with self._guard:
            self._items.clear()
            self.load_seconds.clear()


MODEL_CACHE = _Cache()


def cached_load(key: Any, build: Callable[[], Any]) -> Any:
    return MODEL_CACHE.get(key, build)


def is_loaded(key: Any) -> bool:
    return MODEL_CACHE.is_loaded(key)
