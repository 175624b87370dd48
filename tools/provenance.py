"""Lineage of every shipped weight file: the command that trained it, the command that evaluates it, and the
sha256 of the data files it was trained from (the shared data sets, or the samples shipped here).

    python -m tools.provenance            # (re)writes weights/provenance.json from the files found now
    python -m tools.provenance --check    # exit 1 when a listed data file's hash differs from the recorded one

Most weight files also carry their training command in their own safetensors metadata; the recorded command
is taken from there (upos-ewt's file has none: its command is the README's). Files named under runs/ or
data/ in a command are intermediate products (token files, earlier checkpoints) of the listed sources.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "weights" / "provenance.json"

# weight file -> (data files it was trained from, under ../shared/data or the repo, and its evaluation command)
SOURCES = {
    "mlm-general.safetensors": (["shared:en_text/enwiki_2014_extract.txt.gz"],
                                "python -m models.eval mlm data/corpora/wiki-heldout.txt --model embedded-general"),
    "mlm-imdb.safetensors": (["shared:en_text/enwiki_2014_extract.txt.gz", "shared:imdb/train.jsonl.gz"],
                             "python -m models.eval mlm data/corpora/imdb-heldout.jsonl --model embedded-movies "
                             "--limit 20000"),
    "mlm-tiny.safetensors": (["shared:en_text/enwiki_2014_extract.txt.gz", "shared:en_text/gutenberg_en.txt.gz"],
                             "python -m models.eval mlm data/corpora/wiki-heldout.txt --model embedded-tiny"),
    "ner-conll2003.safetensors": (["shared:conll2003/eng.train"],
                                  "python -m models.eval conll ../shared/data/conll2003/eng.testa --model embedded-ner"),
    "upos-ewt.safetensors": (["shared:ud_english_ewt/en_ewt-ud-train.conllu"],
                             "python -m models.eval upos ../shared/data/ud_english_ewt/en_ewt-ud-dev.conllu "
                             "--model embedded-upos"),
    "qa-squad.safetensors": (["shared:squad/dev-half-a.json", "shared:qa_extra/squadshifts-new_wiki.json",
                              "shared:qa_extra/squadshifts-reddit.json", "shared:qa_extra/squadshifts-amazon.json"],
                             "python -m models.eval squad data/corpora/squad-val.json --model embedded-squad"),
    "sst2-supervised.safetensors": (["shared:sst2/train.tsv"],
                                    "python -m models.eval sst2 data/corpora/sst2-heldout.tsv --backend supervised"),
    "transformer-factors.safetensors": (["repo:samples/sst2-300.tsv", "repo:samples/conll2003-testa-100.txt",
                                         "repo:samples/ud-ewt-dev-100.conllu"],
                                        "python -m pytest tests/test_inside.py -k transformer_factors"),
    "zh/chinesebert-mini-char.safetensors": (["shared:zh_text/zhwiki_sample_AA_wiki_00.txt.gz",
                                              "shared:zh_text/zh_reviews_shopping_waimai.txt.gz",
                                              "shared:zh_text/chinese_poetry_tang_song_shi.zh-hans.txt.gz"],
                                             "python -m models.eval mlm-zh data/zh/zh-heldout.txt --model zh-char"),
    "zh/chinesebert-mini-fused.safetensors": (["shared:zh_text/zhwiki_sample_AA_wiki_00.txt.gz",
                                               "shared:zh_text/zh_reviews_shopping_waimai.txt.gz",
                                               "shared:zh_text/chinese_poetry_tang_song_shi.zh-hans.txt.gz"],
                                              "python -m models.eval mlm-zh data/zh/zh-heldout.txt --model zh-fused"),
    "zh/chnsenticorp-char.safetensors": (["shared:chnsenticorp/train.tsv"],
                                         "python -m models.eval chnsenticorp ../shared/data/chnsenticorp/dev.tsv "
                                         "--model zh-char"),
    "zh/chnsenticorp-fused.safetensors": (["shared:chnsenticorp/train.tsv"],
                                          "python -m models.eval chnsenticorp ../shared/data/chnsenticorp/dev.tsv "
                                          "--model zh-fused"),
    "zh/cmrc-fused.safetensors": (["shared:cmrc2018/cmrc2018_trial.json"],
                                  "python -m models.eval cmrc ../shared/data/cmrc2018/cmrc2018_trial.json "
                                  "--model zh-cmrc --heldout"),
    "zh/weibo-ner-fused.safetensors": (["shared:weibo_ner/weiboNER_2nd_conll.train"],
                                       "python -m models.eval weibo ../shared/data/weibo_ner/weiboNER_2nd_conll.dev "
                                       "--model zh-weibo"),
}
README_COMMANDS = {"upos-ewt.safetensors": "python -m recipes.train_tagger upos --data ../shared/data --epochs 1.5 "
                                           "--out weights/upos-ewt.safetensors"}


def resolve(ref: str) -> Path:
    where, _, rel = ref.partition(":")
    return (SHARED if where == "shared" else ROOT) / rel


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def train_command(weight: Path) -> str:
    from safetensors import safe_open

    with safe_open(str(weight), "pt") as f:
        meta = f.metadata() or {}
    command = meta.get("command", "")
    try:
        command = json.loads(command) if command.startswith('"') else command
    except json.JSONDecodeError:
        pass
    return command or README_COMMANDS.get(str(weight.relative_to(ROOT / "weights")), "")


def build() -> dict:
    out = {}
    for name, (refs, evaluate) in SOURCES.items():
        weight = ROOT / "weights" / name
        out[name] = {"train": train_command(weight), "evaluate": evaluate,
                     "data": {ref: sha256(resolve(ref)) if resolve(ref).is_file() else None for ref in refs}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.check:
        recorded = json.loads(OUT.read_text(encoding="utf-8"))
        bad = [f"{w}: {ref}" for w, entry in recorded.items() for ref, digest in entry["data"].items()
               if resolve(ref).is_file() and sha256(resolve(ref)) != digest]
        print("\n".join(bad) or "every data file present matches its recorded sha256")
        sys.exit(1 if bad else 0)
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
