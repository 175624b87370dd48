"""bf16 autocast vs fp32 on the QA recipe's training step (16 windows of 256 tokens; LoRA + the top N
encoder layers): step time, and whether both compute the same step (loss, gradient cosine).

    OMP_NUM_THREADS=1 python -m benchmarks.bench_bf16_training [--steps 4] [--train-top 3]
"""
from __future__ import annotations

import argparse
import json
import time

import torch
from transformers import BertForQuestionAnswering

from models import embedded, readers
from recipes import common, train_qa


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--squad", default=f"{common.DATA_DIR}/squad/dev-half-a.json")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--train-top", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    model, tok = embedded.build_model(BertForQuestionAnswering)
    model = embedded.add_adapter(model, r=16, alpha=32)
    common.train_top_layers(model, args.train_top)
    rows = readers.read_squad(args.squad)[:200]
    feats = train_qa.featurize(tok, train_qa.make_examples(rows, 0.3, 0), 256, 85)
    batches = [train_qa.collate(feats[16 * i:16 * (i + 1)]) for i in range(args.steps)]
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    out = {"threads": torch.get_num_threads(), "train_top": args.train_top}
    # agreement: the same batch and dropout masks through both
    agree = []
    for batch in batches[:3]:
        grads, losses = [], []
        for bf16 in (False, True):
            model.zero_grad()
            torch.manual_seed(1)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch).loss
            loss.backward()
            grads.append(torch.cat([p.grad.flatten() for p in params]))
            losses.append(round(loss.item(), 4))
        agree.append({"loss_fp32": losses[0], "loss_bf16": losses[1],
                      "grad_cosine": round(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=0).item(), 5)})
    out["agreement"] = agree
    # speed: optimiser steps, alternating so drift hits both
    opt = torch.optim.AdamW(params, lr=1e-5)
    for mode in ("fp32", "bf16", "fp32", "bf16"):
        times = []
        for batch in batches:
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
            times.append(time.perf_counter() - t0)
        out.setdefault(f"{mode}_step_s", []).append(round(sorted(times)[len(times) // 2], 3))
    out["speedup"] = round(min(out["fp32_step_s"]) / min(out["bf16_step_s"]), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
