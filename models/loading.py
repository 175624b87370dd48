"""The model cache (lazily, once per process, thread-safe, non-embedded models under a memory budget) and
the Hub access every loader shares.

Every task module loads its models through `cached_load`, so a model is built once per process however
many requests ask for it, and two requests racing for the same model wait for one load instead of doing
two. How a checkpoint becomes a model is models/task_model.py.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any, Callable

from models.errors import ModelUnavailable

HUB_HOST = "huggingface.co"
_REACH_TTL_S = 60.0


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


def model_bytes(obj: Any) -> int:
    """Bytes of the torch parameters and buffers an (object holding a) model keeps in memory, and of the
    numpy arrays of an index built from one (corpus search)."""
    import numpy as np
    import torch

    seen: set[int] = set()

    def walk(o, depth=0) -> int:
        if id(o) in seen or depth > 2:
            return 0
        seen.add(id(o))
        if isinstance(o, torch.nn.Module):
            return sum(t.numel() * t.element_size() for t in [*o.parameters(), *o.buffers()])
        if isinstance(o, np.ndarray):
            return o.nbytes
        if isinstance(o, torch.Tensor):
            return o.numel() * o.element_size()
        if isinstance(o, (tuple, list)):
            return sum(walk(x, depth + 1) for x in o)
        if hasattr(o, "__dict__"):
            return sum(walk(x, depth + 1) for x in vars(o).values())
        return 0

    return walk(obj)


# Models that are not embedded (Hub checkpoints, SmolLM2, the views' private copies) are kept under this
# memory budget, least recently used evicted first; the embedded models always stay.
DEFAULT_BUDGET_MB = 2500


class _Cache:
    def __init__(self, budget_bytes: int | None = None) -> None:
        self._items: dict[Any, Any] = {}
        self._locks: dict[Any, threading.Lock] = {}
        self._guard = threading.Lock()
        self.load_seconds: dict[Any, float] = {}
        self._evictable: dict[Any, int] = {}  # key -> bytes, in least-recently-used-first order
        self.budget_bytes = budget_bytes if budget_bytes is not None else \
            int(float(os.environ.get("BERT_DEMO_MODEL_BUDGET_MB", DEFAULT_BUDGET_MB)) * 2**20)

    def get(self, key: Any, build: Callable[[], Any], evictable: bool = False) -> Any:
        item = self._items.get(key)
        if item is not None:
            self._touch(key)
            return item
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._items:  # another thread may have built it while we waited
                t0 = time.perf_counter()
                item = build()
                with self._guard:
                    self._items[key] = item
                    self.load_seconds[key] = time.perf_counter() - t0
                    if evictable:
                        self._evictable[key] = model_bytes(item)
                        self._evict(keep=key)
            item = self._items[key]
        return item

    def _touch(self, key: Any) -> None:
        with self._guard:
            if key in self._evictable:
                self._evictable[key] = self._evictable.pop(key)  # move to the most recent end

    def _evict(self, keep: Any) -> None:
        """Drop least recently used evictable models until they fit the budget (the newest always stays).
        A request still using an evicted model keeps its reference; the next one loads it again."""
        while sum(self._evictable.values()) > self.budget_bytes and len(self._evictable) > 1:
            oldest = next(k for k in self._evictable if k != keep)
            del self._evictable[oldest]
            self._items.pop(oldest, None)
            self.load_seconds.pop(oldest, None)

    def evictable_bytes(self) -> int:
        return sum(self._evictable.values())

    def is_loaded(self, key: Any) -> bool:
        return key in self._items

    def peek(self, key: Any) -> Any:
        """The item if it is held (it counts as used), else None: nothing is built."""
        item = self._items.get(key)
        if item is not None:
            self._touch(key)
        return item

    def forget(self, key: Any) -> None:
        """Drop one model (the next request builds it again)."""
        with self._guard:
            self._items.pop(key, None)
            self.load_seconds.pop(key, None)
            self._evictable.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._items.clear()
            self.load_seconds.clear()
            self._evictable.clear()


MODEL_CACHE = _Cache()


def cached_load(key: Any, build: Callable[[], Any], evictable: bool = False) -> Any:
    """Build once per process. `evictable`: a model that is not embedded, kept under the memory budget."""
    return MODEL_CACHE.get(key, build, evictable)


def is_loaded(task: str, name: str) -> bool:
    """Has this checkpoint been built in this process (so the tab can skip its "loading" notice)?"""
    return MODEL_CACHE.is_loaded((task, name))
