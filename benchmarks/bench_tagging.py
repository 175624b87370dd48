"""Tagging throughput: words per second over a 1,000-sentence file, batched vs one by one.

    python -m benchmarks.bench_tagging ../shared/data/conll2003/eng.testa [--model embedded-ner]
"""
from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", help="CoNLL-2003 or CoNLL-U file")
    ap.add_argument("--model", default="embedded-ner")
    ap.add_argument("--sentences", type=int, default=1000)
    args = ap.parse_args()
    from models import readers, tagging

    reader = readers.read_conllu if args.data.endswith(".conllu") else readers.read_conll
    sents = [w for w, _ in reader(args.data)[:args.sentences]]
    n_words = sum(map(len, sents))
    tg = tagging.load(args.model)
    tagging.tag_word_lists(tg, sents[:50])  # warm-up
    t0 = time.perf_counter()
    tagging.tag_word_lists(tg, sents, batch_size=64)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in sents:
        tagging.tag_word_lists(tg, [s])
    single = time.perf_counter() - t0
    print(json.dumps({"model": args.model, "sentences": len(sents), "words": n_words,
                      "batched_words_per_s": round(n_words / batched), "one_by_one_words_per_s": round(n_words / single),
                      "speedup": round(single / batched, 2)}))


if __name__ == "__main__":
    main()
