"""Tokenizers shared by concurrent requests. A fast tokenizer keeps its truncation and padding settings in the
one Rust object it wraps and sets them on every call, so two threads calling it at once can read each other's
settings (a question padded to 256 tokens because another request's call asked for padding was measured).
`guard` makes a tokenizer's calls take one lock: same class name and behaviour, one call at a time."""
from __future__ import annotations

import functools
import threading

GUARDED = ("__call__", "encode", "encode_plus", "batch_encode_plus", "pad", "tokenize")
_classes: dict[type, type] = {}
_lock = threading.Lock()


def _locked(method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._call_lock:
            return method(self, *args, **kwargs)
    return call


def guard(tokenizer):
    """The same tokenizer, its encoding calls serialised (idempotent)."""
    if tokenizer is None or getattr(tokenizer, "_call_lock", None) is not None:
        return tokenizer
    cls = type(tokenizer)
    with _lock:
        if cls not in _classes:
            methods = {name: _locked(getattr(cls, name)) for name in GUARDED if hasattr(cls, name)}
            # a model deep-copied with its tokenizer (the lab's weight averaging) shares it: a lock cannot be
            # copied, and nothing a model does changes its tokenizer
            _classes[cls] = type(cls.__name__, (cls,), {**methods, "__qualname__": cls.__qualname__,
                                                         "__module__": cls.__module__,
                                                         "__deepcopy__": lambda self, memo: self})
    tokenizer.__class__ = _classes[cls]
    tokenizer._call_lock = threading.RLock()
    return tokenizer
