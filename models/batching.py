"""Dynamic batching: requests for the same model that arrive together share one forward pass.

Most of a small model's time per request is fixed overhead around one short forward pass, so when visitors
come in a burst, padding their inputs into one batch serves them all in little more than the time of one.
A request that finds others already waiting (a burst) waits WAIT_SECONDS more for the rest to join; one
that finds none runs at once, as those that come while it runs form the next batch. The results are the
ones each request gets alone (the padding is masked; a test compares them).

    batcher("fill-mask", name).run(item, run_many)   # run_many(items) -> results, in order

Every pass, of every model, runs on one thread (MODEL_THREAD), one at a time: when the caller's thread ran it,
the up to 40 request threads each built their own native buffers (oneDNN/MKL keep them per thread), and the
server grew from 1.3 to 2.4 GB over 5,500 requests at 64 clients; on one thread it grew to 1.6 GB, for the
same throughput at 64 clients (benchmarks/load_test.py; 16 clients: 43-46 req/s against 49).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import torch

WAIT_SECONDS = 0.004  # how long the first request of a burst waits for others to join
MAX_BATCH = 16


class Batcher:
    """Callers block in run(). One of them leads at a time: it waits a moment for others to join, runs the
    batches (first come, first served) until its own request is answered, then hands the lead to a caller
    still waiting, so no caller serves a stream of others for ever."""

    def __init__(self, max_batch: int = MAX_BATCH, wait_s: float = WAIT_SECONDS) -> None:
        self.max_batch, self.wait_s = max_batch, wait_s
        self._cond = threading.Condition()
        self._pending: list[tuple[Any, Callable, Future]] = []
        self._leading = False
        self.batches = self.items = 0  # what the benchmark and the tests read: items / batches = mean batch

    def run(self, item: Any, run_many: Callable[[list], list]) -> Any:
        future: Future = Future()
        with self._cond:
            self._pending.append((item, run_many, future))
            while not future.done() and self._leading:
                self._cond.wait()
            if future.done():
                return future.result()
            self._leading = True
        try:
            with self._cond:
                burst = len(self._pending) > 1
            if self.wait_s and burst:  # let the rest of a burst join this batch; alone, no wait (4 ms was
                time.sleep(self.wait_s)  # +11 % on a lone fill-mask request end to end)
            while not future.done():
                with self._cond:
                    batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                self._run_batch(batch)
                with self._cond:
                    self._cond.notify_all()  # the answered callers return
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()  # a caller still waiting leads the rest
        return future.result()

    def _run_batch(self, batch: list) -> None:
        try:
            results = on_model_thread(batch[0][1], [item for item, _, _ in batch])
            for (_, _, future), result in zip(batch, results):
                future.set_result(result)
        except BaseException as exc:  # a failed batch fails its callers, never the leader's loop
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        self.batches += 1
        self.items += len(batch)


MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-passes")


def on_model_thread(run_many: Callable[[list], list], items: list) -> list:
    """run_many(items) on the model thread, without autograd (the caller's no_grad is per thread and does not
    follow); inline when already there, so a pass that asks for another cannot wait on itself."""
    def call():
        with torch.no_grad():
            return run_many(items)

    if threading.current_thread().name.startswith("model-passes"):
        return call()
    return MODEL_THREAD.submit(call).result()


_batchers: dict[tuple, Batcher] = {}
_registry_lock = threading.Lock()


def batcher(*key) -> Batcher:
    """The one batcher of a model (and of whatever else must match for requests to share a pass)."""
    with _registry_lock:
        return _batchers.setdefault(key, Batcher())
