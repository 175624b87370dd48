"""Learn "transformer factors" (Yun et al., 2021) for the embedded masked LM: one dictionary shared by all
layers, learned by sparse dictionary learning on the unit-length hidden states of every token of the built-in
corpus at every layer, so each contextual embedding is a sparse sum of factors. Ships the dictionary (fp16)
with, per factor, its importance by layer (mean activation) and its top-activating corpus contexts per layer,
so the "Look inside" view answers a sentence with one sparse coding and a factor with a lookup.

    python -m recipes.build_transformer_factors --out weights/transformer-factors.safetensors
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from recipes import common

MODEL = "fill-mask: embedded-general"


def main() -> None:
    from sklearn.decomposition import MiniBatchDictionaryLearning

    from models.inside import corpus_search

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--factors", type=int, default=256)
    ap.add_argument("--alpha", type=float, default=0.1, help="sparsity (L1 weight) of the codes")
    ap.add_argument("--fit-samples", type=int, default=30000, help="token-layer vectors the dictionary is fit on")
    ap.add_argument("--max-iter", type=int, default=10)
    ap.add_argument("--top", type=int, default=5, help="top-activating contexts kept per factor and layer")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.time()
    index = corpus_search.build_index(MODEL)
    vectors = index.vectors.astype(np.float32)  # [layers + 1, tokens, hidden], unit length
    n_layers, n_tokens, hidden = vectors.shape
    flat = vectors.reshape(-1, hidden)
    rng = np.random.default_rng(args.seed)
    fit_on = flat[rng.choice(len(flat), min(args.fit_samples, len(flat)), replace=False)]
    dl = MiniBatchDictionaryLearning(n_components=args.factors, alpha=args.alpha, batch_size=512,
                                     max_iter=args.max_iter, random_state=args.seed,
                                     transform_algorithm="lasso_lars", transform_alpha=args.alpha)
    dl.fit(fit_on)
    print(f"dictionary {args.factors} x {hidden} fit on {len(fit_on):,} vectors in {time.time() - t0:.0f}s", flush=True)
    importance = np.zeros((args.factors, n_layers), np.float32)
    top_ctx = np.zeros((args.factors, n_layers, args.top, 2), np.int32)  # (sentence, position)
    top_act = np.zeros((args.factors, n_layers, args.top), np.float32)
    active = []
    for layer in range(n_layers):
        codes = dl.transform(vectors[layer])  # [tokens, factors]
        active.append(float((codes != 0).sum(1).mean()))
        importance[:, layer] = np.abs(codes).mean(0)
        best = np.argsort(-codes, axis=0)[:args.top].T  # [factors, top]
        top_ctx[:, layer, :, 0] = index.sentence[best]
        top_ctx[:, layer, :, 1] = index.position[best]
        top_act[:, layer] = np.take_along_axis(codes.T, best, axis=1)
        print(f"layer {layer}: {active[-1]:.1f} active factors per token", flush=True)
    recon = dl.transform(vectors[3, :500]) @ dl.components_
    r2 = 1 - ((recon - vectors[3, :500]) ** 2).sum() / ((vectors[3, :500] - vectors[3, :500].mean(0)) ** 2).sum()
    meta = {"model": MODEL, "factors": args.factors, "alpha": args.alpha, "fit_samples": len(fit_on),
            "corpus_tokens": int(n_tokens), "layers": int(n_layers), "active_per_token": [round(a, 2) for a in active],
            "layer3_reconstruction_r2": round(float(r2), 4), "seconds": round(time.time() - t0),
            "command": common.command_line("build_transformer_factors")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tensors = {"dictionary": dl.components_.astype(np.float16), "importance": importance.astype(np.float16),
               "top_contexts": top_ctx, "top_activations": top_act.astype(np.float16)}
    save_file({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, args.out,
              metadata={k: json.dumps(v) for k, v in meta.items()})
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
