"""Evaluation CLI: one sub-command per task; the LAST stdout line is one JSON object.

    python -m models.eval mlm DATA [--limit N] [--model NAME] [--seed S]

DATA is .txt (one text per line), .jsonl or .jsonl.gz (field `text`).
Later tasks add sub-commands here (squad, conll, upos, sst2, ...).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path


def read_texts(path: str | Path, field: str = "text") -> list[str]:
    """Texts from a .txt / .jsonl / .jsonl.gz file, blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"error: data file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if ".jsonl" in path.suffixes:
        texts = []
        for i, line in enumerate(lines, 1):
            try:
                texts.append(json.loads(line)[field])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SystemExit(f"error: {path}:{i}: not a JSON object with a '{field}' field ({exc})")
        return texts
    return lines


def cmd_mlm(args) -> dict:
    from models import fill_mask
    from models.mlm_scoring import mask_fixed_positions, score_masked_lm

    lm = fill_mask.load(args.model)
    batch = mask_fixed_positions(lm.tokenizer, read_texts(args.data), seed=args.seed, limit_tokens=args.limit)
    scores = score_masked_lm(lm.model, lm.tokenizer, batch)
    return {"task": "mlm", "model": args.model, **scores}


def main(argv: list[str] | None = None) -> None:
    from models import fill_mask

    ap = argparse.ArgumentParser(prog="python -m models.eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="task", required=True)
    p = sub.add_parser("mlm", help="masked-LM perplexity / top-1 / top-5 on held-out text")
    p.add_argument("data")
    p.add_argument("--limit", type=int, help="stop after this many masked tokens")
    p.add_argument("--model", default=fill_mask.DEFAULT_MODEL, help=f"one of {fill_mask.model_names()}")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_mlm)
    args = ap.parse_args(argv)
    try:
        result = args.run(args)
    except (ValueError, RuntimeError) as exc:  # our InputError / ModelUnavailable / WeightsError
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
