"""Inference precision on this CPU (issue 16): fp32, bf16 autocast (AMX) and dynamic int8 (torch's
quantize_dynamic on the Linear layers), for the fill-mask model: speed and agreement with fp32.

    python -m benchmarks.bench_precision [--model embedded-general] [--runs 30]

Agreement: top-1 identical to fp32 at every mask of the 30 cloze probes (samples/probes/cloze_probes.tsv) and of
300 sentences of samples/sst2-300.tsv with one word masked each. Latency: p50 of the whole
`fill_mask.predict` on a ~128-token text, and `transformers.pipeline("fill-mask")` in plain fp32 on the same
checkpoint (what a transformers user runs), measured in the same process. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path

import torch

from benchmarks.bench_fill_mask import TEXT, timed

ROOT = Path(__file__).resolve().parent.parent


def probe_texts(seed: int = 0) -> list[str]:
    from models.readers import read_probes

    texts = [text for _, text, _ in read_probes(ROOT / "samples" / "probes" / "cloze_probes.tsv")]
    rng = random.Random(seed)
    for line in (ROOT / "samples" / "sst2-300.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        words = line.split("\t")[0].split()
        if len(words) >= 4:
            i = rng.randrange(len(words))
            texts.append(" ".join(words[:i] + ["[MASK]"] + words[i + 1:]))
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded-general")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()

    from transformers import pipeline

    from models import fill_mask, precision

    lm = fill_mask.load(args.model)
    fp32 = lm.model
    int8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32), {torch.nn.Linear}, dtype=torch.qint8)
    texts = probe_texts()

    def use(model, bf16: bool) -> None:  # the app's own switch (models/precision.py), turned on for fill-mask
        lm.model, precision.bf16_enabled = model, (lambda: bf16)
        precision.BF16_TASKS = frozenset({"fill-mask"} if bf16 else ())

    def top1(model, bf16: bool) -> list[int]:
        use(model, bf16)
        return [p.candidates[0].token_id for t in texts for p in fill_mask.predict(t, args.model, top_k=1).predictions]

    def latency(model, bf16: bool) -> dict:
        use(model, bf16)
        return timed(lambda: fill_mask.predict(TEXT, args.model, top_k=5), args.runs)

    ref = top1(fp32, False)
    results = {}
    for name, model, bf16 in (("fp32", fp32, False), ("bf16", fp32, True), ("int8", int8, False)):
        got = ref if name == "fp32" else top1(model, bf16)
        results[name] = {**latency(model, bf16), "top1_agreement": round(sum(a == b for a, b in zip(got, ref)) / len(ref), 4)}
    lm.model = fp32
    pipe = pipeline("fill-mask", model=fp32, tokenizer=lm.tokenizer, top_k=5)
    theirs = timed(lambda: pipe(TEXT.replace("[MASK]", lm.tokenizer.mask_token)), args.runs)
    for r in results.values():
        r["p50_ratio_over_pipeline_fp32"] = round(r["p50_ms"] / theirs["p50_ms"], 3)
    print(json.dumps({"model": args.model, "masks_compared": len(ref), "runs": args.runs,
                      "torch_threads": torch.get_num_threads(), "pipeline_fp32": theirs, **results}))


if __name__ == "__main__":
    main()
