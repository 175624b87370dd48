"""Evaluation CLI: one sub-command per task; the LAST stdout line is one JSON object.

    python -m models.eval mlm DATA [--limit N] [--model NAME] [--seed S]
    python -m models.eval squad DATA.json [--limit N] [--model NAME]
    python -m models.eval conll DATA [--limit N] [--model NAME]      (CoNLL-2003 NER)
    python -m models.eval upos DATA.conllu [--limit N] [--model NAME]
    python -m models.eval sst2 DATA.tsv [--shots K --train TRAIN.tsv --seed S ...] [--backend NAME] [--limit N]
    python -m models.eval mlm-zh DATA [--model zh-fused|zh-char]
    python -m models.eval chnsenticorp DATA.tsv [--model zh-fused|zh-char]
    python -m models.eval cmrc DATA.json [--model zh-cmrc] [--heldout]   (CMRC 2018, character-level EM/F1)
    python -m models.eval weibo DATA [--model zh-weibo]                 (Weibo NER, entity-level F1)
    python -m models.eval heads [DATA.conllu|DATA.conll] [--model embedded-upos|embedded-ner] [--limit N]

DATA is .txt (one text per line), .jsonl or .jsonl.gz (field `text`). Where the Hub is reachable, squad, conll and
sst2 also read hub:squad, hub:conll2003, hub:sst2 or hub:imdb through `datasets` (models/hub_data.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models import readers, scoring
from models.errors import InputError, ModelUnavailable
from models.readers import PROBES, read_texts


def cmd_mlm(args) -> dict:
    from models import fill_mask

    lm = fill_mask.load(args.model)
    batch = scoring.mask_fixed_positions(lm.tokenizer, read_texts(args.data), seed=args.seed, limit_tokens=args.limit)
    scores = scoring.score_masked_lm(lm.model, lm.tokenizer, batch)
    return {"task": "mlm", "model": args.model, **scores}


def cmd_probes(args) -> dict:
    return {"task": "probes", "model": args.model, **scoring.score_probes(args.model, args.data)}


def read(data: str, kind: str, local_reader, *extra):
    """Rows from a local file, or from the Hub through `datasets` for `hub:NAME` (models/hub_data.py)."""
    from models import hub_data

    return hub_data.load(data, kind) if hub_data.is_hub(data) else local_reader(data, *extra)


def cmd_squad(args) -> dict:
    from models import qa

    rows = read(args.data, "squad", readers.read_squad)
    if args.limit:
        rows = rows[:args.limit]
    if not rows:
        raise InputError(f"no questions in {args.data}")
    scores = scoring.squad_scores(qa.load(args.model), rows, allow_no_answer=args.allow_no_answer)
    return {"task": "squad", "model": args.model, **scores}


def cmd_cmrc(args) -> dict:
    from models import qa

    rows = readers.read_squad(args.data)
    if args.heldout:  # the articles the CMRC recipe held out of the trial set
        rows = readers.split_by_article(rows)[1]
    rows = rows[:args.limit] if args.limit else rows
    if not rows:
        raise InputError(f"no questions in {args.data}")
    return {"task": "cmrc", "model": args.model, "heldout_articles": args.heldout,
            **scoring.cmrc_scores(qa.load(args.model), rows)}


def cmd_tagging(args) -> dict:
    from models import tagging

    reader, scorer = {"conll": (readers.read_conll, scoring.score_conll), "upos": (readers.read_conllu, scoring.score_upos),
                      "weibo": (readers.read_weibo, scoring.score_conll)}[args.task]
    sents = (read(args.data, "conll", reader) if args.task == "conll" else reader(args.data))[:args.limit]
    if not sents:
        raise InputError(f"no sentences in {args.data}")
    scores = scorer(tagging.load(args.model), sents, args.aggregation)
    scores.pop("words", None)
    return {"task": args.task, "model": args.model, **scores}


def cmd_sst2(args) -> dict:
    import random

    import numpy as np

    from models import fill_mask, prompt_cls, sentence_embedding

    rows = read(args.data, "labelled", readers.read_labelled_tsv)[:args.limit]
    if not rows:
        raise InputError(f"no labelled rows in {args.data}")
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[args.preset])
    args.model = args.model or prompt_cls.PRESET_MODELS.get(args.preset, fill_mask.DEFAULT_MODEL)  # as the tab
    if args.shots and args.mode == "finetune" and args.backend not in ("cloze", "embedding", "ensemble"):
        raise InputError("fine-tuning needs --backend cloze (prompt fine-tuning), embedding (SetFit) or "
                         "ensemble (both); or use --mode demos")
    if args.shots and not args.train:
        raise InputError("--shots needs --train TRAIN.tsv to draw the examples from")
    pool = readers.read_labelled_tsv(args.train) if args.shots else []
    accs = []
    for seed in args.seed:
        shots = []
        if args.shots:
            rng = random.Random(seed)
            for label in spec.labels:
                cands = [r for r in pool if r[1] == label]
                if len(cands) < args.shots:
                    raise InputError(f"--shots {args.shots} but only {len(cands)} '{label}' rows in {args.train}")
                shots += rng.sample(cands, args.shots)
        tuned = []  # the ensemble gets both of these
        if args.shots and args.backend in ("embedding", "ensemble"):  # demos: head on the frozen encoder; finetune: SetFit
            tuned.append(sentence_embedding.setfit(shots, contrastive=args.mode == "finetune", seed=seed))
        if args.shots and args.mode == "finetune" and args.backend in ("cloze", "ensemble"):
            tuned.append(prompt_cls.prompt_finetune(spec, shots, args.model, epochs=args.epochs, seed=seed))
        use_demos = bool(args.shots) and args.mode == "demos"
        # similar demonstrations depend on the text, so those rows are scored one at a time (the app's choice)
        step = 1 if use_demos and args.demo_selection == "similar" else 32
        correct, predicted = 0, []
        for i in range(0, len(rows), step):
            batch = rows[i:i + step]
            demos = prompt_cls.sample_demos(shots, spec, seed, query=batch[0][0], selection=args.demo_selection) \
                if use_demos else []
            probs, _, _ = prompt_cls.label_probabilities(spec, [t for t, _ in batch], args.backend, args.model,
                                                         demos, args.calibrate, tuned)
            predicted += [spec.labels[int(p.argmax())] for p in probs]
            correct += sum(pred == l for pred, (_, l) in zip(predicted[-len(batch):], batch))
        accs.append(correct / len(rows))
        if args.predictions:  # one label per row (the last seed's), to compare with the prompt tab row by row
            Path(args.predictions).write_text("".join(f"{l}\n" for l in predicted), encoding="utf-8")
    out = {"task": args.task, "model": args.model if args.backend in ("cloze", "ensemble") else args.backend,
           "backend": args.backend, "shots": args.shots, "seed": args.seed[0] if len(args.seed) == 1 else args.seed,
           "n": len(rows), "accuracy": round(float(np.mean(accs)), 4)}
    if args.shots:
        out["mode"] = args.mode
        if args.mode == "demos":
            out["demo_selection"] = args.demo_selection
    if len(accs) > 1:
        out["accuracy_std"] = round(float(np.std(accs)), 4)
        out["per_seed"] = [round(a, 4) for a in accs]
    out["calibrated"] = args.calibrate
    return out


def cmd_mlm_zh(args) -> dict:
    scores = scoring.score_masked_chars(args.model, read_texts(args.data), args.seed, args.limit)
    return {"task": "mlm-zh", "model": args.model, **scores}


def cmd_heads(args) -> dict:
    from models.inside import heads

    curves = {}
    for order in ("importance", "random"):
        c = heads.pruning_curve(args.model, args.data, args.limit, order=order, seed=args.seed)
        curves[order] = dict(zip(map(str, c.fractions), c.accuracies))
    return {"task": "head-pruning", "model": args.model, "n_words": c.n_words,
            "least_important": [f"{l + 1}-{h + 1}" for l, h in heads.pruning_order(c.importance)[:5]],
            "accuracy_by_fraction_pruned": curves}


def cmd_chnsenticorp(args) -> dict:
    rows = readers.read_chnsenticorp(args.data)[:args.limit]
    if not rows:
        raise InputError(f"no labelled rows in {args.data}")
    return {"task": "chnsenticorp", "model": args.model, **scoring.score_chnsenticorp(args.model, rows)}


def build_parser() -> argparse.ArgumentParser:
    """One sub-command per task; every default model is the app's default for that task (the registry's)."""
    ap = argparse.ArgumentParser(prog="python -m models.eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="task", required=True)
    _english_commands(sub)
    _chinese_commands(sub)
    return ap


def _english_commands(sub) -> None:
    from models import fill_mask, prompt_cls, qa, registry, tagging

    p = sub.add_parser("mlm", help="masked-LM perplexity / top-1 / top-5 on held-out text")
    p.add_argument("data")
    p.add_argument("--limit", type=int, help="stop after this many masked tokens")
    p.add_argument("--model", default=fill_mask.DEFAULT_MODEL, help=f"one of {registry.names(fill_mask.TASK)}")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_mlm)
    p = sub.add_parser("probes", help="cloze probes (facts, syntax, common sense): hits at rank 1 and in the top 5")
    p.add_argument("data", nargs="?", default=str(PROBES))
    p.add_argument("--model", default=fill_mask.DEFAULT_MODEL, help=f"one of {registry.names(fill_mask.TASK)}")
    p.set_defaults(run=cmd_probes)
    p = sub.add_parser("squad", help="SQuAD v1.1 exact match / F1 (official normalisation, via torchmetrics)")
    p.add_argument("data", help="SQuAD-format JSON, or hub:squad (the Hub, through `datasets`)")
    p.add_argument("--limit", type=int, help="first N questions only")
    p.add_argument("--model", default=qa.DEFAULT_MODEL, help=f"one of {registry.names(qa.TASK)}")
    p.add_argument("--allow-no-answer", action="store_true",
                   help="let the model abstain (SQuAD 2.0 style); v1.1 scoring always answers")
    p.set_defaults(run=cmd_squad)
    p = sub.add_parser("cmrc", help="CMRC 2018 exact match / F1, character level as the official script")
    p.add_argument("data", help="CMRC (SQuAD-format) JSON")
    p.add_argument("--limit", type=int, help="first N questions only")
    p.add_argument("--model", default=registry.default(qa.TASK, language="zh"), help=f"one of {registry.names(qa.TASK)}")
    p.add_argument("--heldout", action="store_true", help="only the articles the training recipe held out")
    p.set_defaults(run=cmd_cmrc)
    ner, upos = registry.Labels.NER, registry.Labels.UPOS
    for task, default, what in (
            ("conll", registry.default(tagging.TASK, ner, "en"), "entity-level NER P/R/F1 (seqeval) on a CoNLL-2003 file"),
            ("upos", registry.default(tagging.TASK, upos, "en"), "word-level UPOS accuracy on a CoNLL-U file"),
            ("weibo", registry.default(tagging.TASK, ner, "zh"), "entity-level NER P/R/F1 (seqeval) on a Weibo NER file")):
        p = sub.add_parser(task, help=what)
        p.add_argument("data")
        p.add_argument("--limit", type=int, help="first N sentences only")
        p.add_argument("--model", default=default, help=f"one of {registry.names(tagging.TASK)}")
        p.add_argument("--aggregation", default="first", choices=tagging.AGGREGATIONS)
        p.set_defaults(run=cmd_tagging)
    p = sub.add_parser("sst2", aliases=["classify"],
                       help="prompt classification accuracy on a labelled TSV (sentence or text<TAB>label)")
    p.add_argument("data")
    p.add_argument("--shots", type=int, default=0, help="K labelled examples per class (0 = zero-shot)")
    p.add_argument("--train", help="TSV to draw the K examples from")
    p.add_argument("--demo-selection", choices=("similar", "random"), default="similar",
                   help="demonstrations (--mode demos): per label the example most similar to the text, closest "
                        "last (LM-BFF; the app's choice), or a random one")
    p.add_argument("--mode", choices=("demos", "finetune"), default="finetune",
                   help="few-shot as LM-BFF demonstrations or prompt-based fine-tuning")
    p.add_argument("--epochs", type=int, default=10, help="prompt fine-tuning epochs")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds (mean and std reported)")
    p.add_argument("--backend", choices=prompt_cls.BACKENDS, default="cloze")
    p.add_argument("--model", default=None, help="masked LM for the cloze backend (default: the preset's, as in the app)")
    p.add_argument("--preset", default=prompt_cls.SST2_PRESET, choices=list(prompt_cls.PRESETS))
    p.add_argument("--calibrate", action="store_true", help="contextual calibration")
    p.add_argument("--limit", type=int, help="first N rows only")
    p.add_argument("--predictions", help="write each row's predicted label to this file, one per line")
    p.set_defaults(run=cmd_sst2)
    p = sub.add_parser("heads", help="tagger accuracy as heads are pruned: importance order vs random")
    p.add_argument("data", nargs="?", help="CoNLL-U / CoNLL file (default: the built-in 100-sentence sample)")
    p.add_argument("--model", default=registry.default(tagging.TASK, upos, "en"),
                   choices=[c.name for c in registry.for_view("heads")])
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_heads)


def _chinese_commands(sub) -> None:
    from models import registry

    p = sub.add_parser("mlm-zh", help="mini ChineseBERT: masked-character accuracy and perplexity")
    p.add_argument("data")
    p.add_argument("--model", default=registry.default("chinese-mlm"),
                   choices=registry.names("chinese-mlm", registry.Source.EMBEDDED))
    p.add_argument("--limit", type=int, help="stop after this many masked characters")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_mlm_zh)
    p = sub.add_parser("probes-zh", help="Chinese cloze probes (words, idioms): hits at rank 1 and in the top 5")
    p.add_argument("data", nargs="?", help="probe TSV (default samples/probes/zh_cloze_probes.tsv)")
    p.add_argument("--model", default=registry.default("chinese-mlm"),
                   choices=registry.names("chinese-mlm", registry.Source.EMBEDDED))
    p.set_defaults(run=lambda a: {"task": "probes-zh", "model": a.model, **scoring.score_zh_probes(a.model, a.data)})
    p = sub.add_parser("chnsenticorp", help="mini ChineseBERT sentiment accuracy on a ChnSentiCorp TSV")
    p.add_argument("data")
    p.add_argument("--model", default=registry.default("chinese-mlm"),
                   choices=registry.names("chinese-mlm", registry.Source.EMBEDDED))
    p.add_argument("--limit", type=int)
    p.set_defaults(run=cmd_chnsenticorp)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        result = args.run(args)
    except (InputError, ModelUnavailable, FileNotFoundError) as exc:  # what a user can act on; bugs keep their traceback
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
