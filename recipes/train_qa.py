"""Train the embedded QA model: a span head + LoRA adapters on the MiniLM encoder (optionally
its top layers in full).

    python -m recipes.train_qa --squad ../shared/data/squad/dev-half-a.json \
        --extra ../shared/data/qa_extra/squadshifts-*.json --train-top 3 --bf16 \
        --steps 2000 --minutes 120 --out weights/qa-squad.safetensors

--extra adds SQuAD-format files used for training only (e.g. SQuADShifts), all of their questions.

The SQuAD train set is not available here, so this trains on SQuAD v1.1 dev half A and keeps
every 6th article (4 of 24, the same ones the MLM recipe holds out) for validation. To teach
the model to say "no answer", --neg-rate of the questions are also paired with another
paragraph of the same article that does not contain the answer (target: [CLS]), and windows
of long contexts without the answer point at [CLS] too, as in SQuAD 2.0 training.
Checkpoints go to --run-dir; rerunning the same command resumes. accelerate-ready.
"""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import BertForQuestionAnswering

from models import embedded, qa, readers, registry, scoring
from recipes import common

VAL_EVERY = 6  # article i is validation when i % 6 == 5


def make_examples(rows: list[dict], neg_rate: float, seed: int) -> list[dict]:
    rng = random.Random(seed)
    by_article: dict[int, list[str]] = {}
    for r in rows:
        paras = by_article.setdefault(r["article"], [])
        if r["context"] not in paras:
            paras.append(r["context"])
    out = []
    for r in rows:
        out.append({"question": r["question"], "context": r["context"], "answer": r["answers"][0],
                    "start": r["answer_starts"][0]})
        if rng.random() < neg_rate:
            others = [p for p in by_article[r["article"]] if r["answers"][0].lower() not in p.lower()]
            if others:
                out.append({"question": r["question"], "context": rng.choice(others), "answer": None, "start": -1})
    return out


def featurize(tokenizer, examples: list[dict], max_len: int, stride: int) -> list[dict]:
    feats = []
    for ex in examples:
        enc = qa.encode_windows(tokenizer, ex["question"], ex["context"], max_len, stride)
        for w in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(w)
            offsets = enc["offset_mapping"][w]
            s_tok = e_tok = 0  # [CLS]: no answer in this window
            if ex["answer"] is not None:
                a, b = ex["start"], ex["start"] + len(ex["answer"])
                ctx = [i for i, s in enumerate(seq) if s == 1]
                if offsets[ctx[0]][0] <= a and offsets[ctx[-1]][1] >= b:
                    s_tok = next(i for i in ctx if offsets[i][1] > a)
                    e_tok = next(i for i in reversed(ctx) if offsets[i][0] < b)
            feats.append({"input_ids": enc["input_ids"][w], "attention_mask": enc["attention_mask"][w],
                          "token_type_ids": enc["token_type_ids"][w], "start_positions": s_tok,
                          "end_positions": e_tok})
    return feats


def collate(batch: list[dict]) -> dict:
    return {k: torch.tensor([b[k] for b in batch]) for k in batch[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", required=True, help="SQuAD-format file; every 6th article is validation")
    ap.add_argument("--extra", nargs="*", default=[], help="more SQuAD-format files, training only")
    ap.add_argument("--out", required=True)
    ap.add_argument("--run-dir")
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--steps", type=int, help="optimiser steps (overrides --epochs)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="stop after this many minutes (checkpoint saved; rerun the same command to go on)")
    ap.add_argument("--train-top", type=int, default=0, help="also train the top N encoder layers in full")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (about 1.4x faster on this AMX CPU)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--stride", type=int, default=96)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--neg-rate", type=float, default=0.3)
    ap.add_argument("--val-limit", type=int, default=400, help="validation questions scored at the end")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    acc = Accelerator()
    rows = readers.read_squad(args.squad)
    train_rows = [r for r in rows if r["article"] % VAL_EVERY != VAL_EVERY - 1]
    val_rows = [r for r in rows if r["article"] % VAL_EVERY == VAL_EVERY - 1]
    for i, path in enumerate(args.extra):  # article ids kept apart from --squad's for the negatives
        train_rows += [{**r, "article": (i + 1, r["article"])} for r in readers.read_squad(path)]
    model, tok = embedded.build_model(BertForQuestionAnswering)
    model = embedded.add_adapter(model, r=args.lora_r, alpha=2 * args.lora_r)
    common.train_top_layers(model, args.train_top)
    examples = make_examples(train_rows, args.neg_rate, args.seed)
    feats = featurize(tok, examples, args.max_len, args.stride)
    n_neg = sum(f["start_positions"] == 0 for f in feats)
    acc.print(f"{len(train_rows)} train / {len(val_rows)} val questions; {len(examples)} examples "
              f"-> {len(feats)} windows ({n_neg} point at [CLS])")
    loader = torch.utils.data.DataLoader(feats, batch_size=args.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(args.seed))
    steps = args.steps or math.ceil(args.epochs * len(loader))
    params = [p for p in model.parameters() if p.requires_grad]
    acc.print(f"trainable parameters: {sum(p.numel() for p in params):,}; {steps} steps")
    opt, sched = common.optimizer_and_schedule(params, args.lr, steps)
    run_dir = common.run_dir_for(args.out, args.run_dir)
    start = common.continue_from_committed(model, args.out, run_dir)
    for _ in range(start):  # the schedule where the committed weights left it
        sched.step()
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    train_s, step = common.train(acc, model, loader, opt, sched, steps, lambda batch: model(**batch).loss,
                                 run_dir, args.save_every, minutes=args.minutes, bf16=args.bf16, start_step=start)
    peft_model = acc.unwrap_model(model)
    meta = {"task": "qa", "train": [Path(f).name for f in [args.squad, *args.extra]],
            "val_articles": f"i % {VAL_EVERY} == {VAL_EVERY - 1} of {Path(args.squad).name}",
            "windows": len(feats), "steps": steps, "steps_done": step, "batch_size": args.batch_size,
            "max_len": args.max_len, "lr": args.lr, "train_top": args.train_top, "bf16": args.bf16,
            "neg_rate": args.neg_rate, "train_seconds_last_run": round(train_s),
            "command": common.command_line("train_qa")}
    embedded.save_adapter(peft_model, args.out, meta)
    # validate the saved (fp16, merged) artefact exactly as the app will load it
    merged, tok2, saved_meta = embedded.load_embedded(args.out, BertForQuestionAnswering)  # its max_len: the app's window
    qa_model = qa.QAModel("trained", merged, tok2, registry.get("qa", qa.DEFAULT_MODEL), saved_meta)
    val = scoring.squad_scores(qa_model, val_rows[:args.val_limit])
    acc.print(json.dumps({"out": args.out, "steps": steps, "train_seconds": round(train_s), "val": val}))


if __name__ == "__main__":
    main()
