"""Memory of the six MiniLM models in one process, with and without sharing their frozen tensors.

    python -m benchmarks.bench_memory on     # as the app runs
    python -m benchmarks.bench_memory off    # every model keeps its own copy (the old behaviour)

Prints one JSON object: RSS at start and with all six loaded (after malloc_trim, so freed memory counts).
"""
from __future__ import annotations

import ctypes
import gc
import json
import sys

import psutil


def main() -> None:
    sharing = (sys.argv[1:] or ["on"])[0]
    from models import embedded

    if sharing == "off":
        embedded.share_identical_parameters = lambda model: 0
    from models import fill_mask, qa, sentence_embedding, tagging

    def rss() -> int:
        return round(psutil.Process().memory_info().rss / 2**20)

    start = rss()
    for name in ("embedded-general", "embedded-movies"):
        fill_mask.predict("Paris is the [MASK] of France.", name)
    qa.predict("Who went home?", "Bob went home.", "embedded-squad")
    for name in ("embedded-ner", "embedded-upos"):
        tagging.predict("Bob went home.", name)
    sentence_embedding.load()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    print(json.dumps({"sharing": sharing, "rss_mb_start": start, "rss_mb_six_minilm_models": rss()}))


if __name__ == "__main__":
    main()
