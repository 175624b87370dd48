"""Cut the shared data sets into plain-text training / held-out corpora (never committed).

    python -m recipes.prepare_corpora --data ../shared/data --out data/corpora

Writes one text per line (.txt) or JSON lines with a `text` field (.jsonl):
  general-train.txt   Wikipedia paragraphs (SQuAD dev-half-a, training articles)
                      + UD EWT train sentences (web text) + CoNLL-2003 train (news)
  wiki-heldout.txt    Wikipedia paragraphs of held-out SQuAD articles (every 6th article)
  imdb-train.txt      IMDB train reviews except the held-out ones
  imdb-heldout.jsonl  1,000 IMDB reviews (fixed seed), never trained on
  squad-val.json      the held-out SQuAD articles (same split as recipes/train_qa.py), SQuAD format
  sst2-heldout.tsv    1,000 SST-2 train rows of 8+ words (fixed seed): the prompt-classification test slice
  sst2-pool.tsv       every other SST-2 row: the pool few-shot examples are drawn from
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from pathlib import Path

from recipes import common

HELDOUT_EVERY = 6  # SQuAD article i is held out when i % 6 == 5 (4 of 24 articles)
IMDB_HELDOUT = 1000


def squad_paragraphs(path: Path):
    data = json.loads(path.read_text())["data"]
    for i, article in enumerate(data):
        for para in article["paragraphs"]:
            yield i % HELDOUT_EVERY == HELDOUT_EVERY - 1, para["context"].strip()


def ewt_sentences(path: Path):
    for line in path.open(encoding="utf-8"):
        if line.startswith("# text = "):
            yield line[len("# text = "):].strip()


def conll_documents(path: Path):
    """CoNLL-2003 documents, tokens joined by spaces (BERT's tokenizer splits punctuation anyway)."""
    doc, sent = [], []
    for line in path.open(encoding="utf-8"):
        parts = line.split()
        if not parts:
            if sent:
                doc.append(" ".join(sent))
                sent = []
            continue
        if parts[0] == "-DOCSTART-":
            if doc:
                yield " ".join(doc)
            doc = []
            continue
        sent.append(parts[0])
    if sent:
        doc.append(" ".join(sent))
    if doc:
        yield " ".join(doc)


def clean_review(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("<br />", " ")).strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=common.DATA_DIR)
    ap.add_argument("--out", default="data/corpora")
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    general, heldout = [], []
    for is_held, para in squad_paragraphs(data / "squad/dev-half-a.json"):
        (heldout if is_held else general).append(para)
    n_wiki = len(general)
    general += list(ewt_sentences(data / "ud_english_ewt/en_ewt-ud-train.conllu"))
    n_ewt = len(general) - n_wiki
    general += list(conll_documents(data / "conll2003/eng.train"))
    random.Random(0).shuffle(general)
    (out / "general-train.txt").write_text("\n".join(general) + "\n")
    (out / "wiki-heldout.txt").write_text("\n".join(heldout) + "\n")

    with gzip.open(data / "imdb/train.jsonl.gz", "rt", encoding="utf-8") as f:
        reviews = [clean_review(json.loads(line)["text"]) for line in f]
    order = list(range(len(reviews)))
    random.Random(0).shuffle(order)
    held = set(order[:IMDB_HELDOUT])
    with (out / "imdb-heldout.jsonl").open("w") as f:
        for i in sorted(held):
            f.write(json.dumps({"text": reviews[i]}) + "\n")
    (out / "imdb-train.txt").write_text("\n".join(reviews[i] for i in order[IMDB_HELDOUT:]) + "\n")

    squad = json.loads((data / "squad/dev-half-a.json").read_text())
    squad["data"] = [a for i, a in enumerate(squad["data"]) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    (out / "squad-val.json").write_text(json.dumps(squad))

    sst = (data / "sst2/train.tsv").read_text(encoding="utf-8").splitlines()
    header, sst = sst[0], sst[1:]
    order = list(range(len(sst)))
    random.Random(0).shuffle(order)
    held = [i for i in order if len(sst[i].split("\t")[0].split()) >= 8][:1000]
    held_set = set(held)
    (out / "sst2-heldout.tsv").write_text("\n".join([header] + [sst[i] for i in sorted(held)]) + "\n")
    (out / "sst2-pool.tsv").write_text("\n".join([header] + [r for i, r in enumerate(sst) if i not in held_set]) + "\n")

    print(json.dumps({"sst2_heldout": len(held), "sst2_pool": len(sst) - len(held), "general_train": len(general), "wiki_paragraphs": n_wiki, "ewt_sentences": n_ewt,
                      "conll_documents": len(general) - n_wiki - n_ewt, "wiki_heldout": len(heldout),
                      "imdb_train": len(reviews) - IMDB_HELDOUT, "imdb_heldout": IMDB_HELDOUT}))


if __name__ == "__main__":
    main()
