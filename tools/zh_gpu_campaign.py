"""One GPU lease, one command: the issue-14 Chinese campaign, sized to the time box.

1. a short speed probe of both pre-training runs side by side (fused and char-only);
2. pre-training of both from monpa's ALBERT for the same number of steps (sized from the probe), on the
   same windows in the same order with the same masks: the only difference is the glyph and pinyin parts;
3. ChnSentiCorp heads on each: 2 learning rates x 3 seeds, all side by side, each scored on dev.

Everything it needs travels in an ignored bundle folder (built here by `--build-bundle`, since the GPU box
has no fonts, no pypinyin and no ../shared/data), and its results come back as a few files under $OUT:
log.txt, results.json and the weights as split tar parts (at most 16 MiB per returned file).

    python -m tools.zh_gpu_campaign --build-bundle gpu            # here (fonts, pypinyin, data)
    python3 -m tools.zh_gpu_campaign --bundle gpu --budget 540    # on the GPU box, in the repo root
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
from pathlib import Path

from recipes import common
from tools.gpu_lease import Lease, add_lease_arguments, read_meta

STEP_LINE = re.compile(r"step (\d+)/\d+ loss [\d.]+ \(([\d.]+)s/step\)")


def build_bundle(bundle: Path) -> None:
    import site

    from models.chinese import mlm as chinese_mlm, glyphs
    from recipes import train_chinesebert

    zh = Path("data/zh")
    (bundle / "zh").mkdir(parents=True, exist_ok=True)
    tok = chinese_mlm.make_tokenizer(zh / "vocab.txt")
    train_chinesebert.packed_corpus(tok, zh, 128, None)
    for name in ("vocab.txt", "zh-heldout.txt", "packed-128-all.npz"):
        shutil.copy(zh / name, bundle / "zh" / name)
    glyphs.save_glyph_table(chinese_mlm.vocab_list(tok), str(bundle / "glyphs.npz"))
    pkg = next(Path(p) / "pypinyin" for p in site.getsitepackages() if (Path(p) / "pypinyin").is_dir())
    shutil.copytree(pkg, bundle / "site" / "pypinyin", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(common.DATA_DIR) / "chnsenticorp", bundle / "data" / "chnsenticorp", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.pdf"))
    shutil.copytree("data/monpa", bundle / "monpa", dirs_exist_ok=True)
    print(f"bundle ready in {bundle}")


class Campaign(Lease):
    def __init__(self, args):
        b = Path(args.bundle).resolve()
        super().__init__(args.budget, args.bundle, args.work, "artifacts/zh-gpu",
                         {"BERT_DEMO_GLYPH_TABLE": str(b / "glyphs.npz"), "BERT_DEMO_DATA": str(b / "data")})
        self.args = args
        self.results["args"] = vars(args)

    def pretrain_argv(self, fusion: bool, steps: int, out: Path, run_dir: Path, minutes: float, eval_chars: int):
        a = self.args
        return ["pretrain", "--corpus", str(self.bundle / "zh"), "--init-monpa", str(self.bundle / "monpa"),
                "--fusion" if fusion else "--no-fusion", "--steps", str(steps), "--batch-size", str(a.batch_size),
                "--lr", str(a.lr), "--mask-rate", str(a.mask_rate), "--bf16", "--workers", str(a.workers),
                "--save-every", "100000", "--minutes", f"{minutes:.2f}", "--eval-chars", str(eval_chars),
                "--run-dir", str(run_dir), "--out", str(out)]

    def probe(self) -> float:
        """Seconds per step of the two runs side by side, from steps 50..75 (start-up excluded)."""
        n = self.args.probe_steps
        jobs = [self.launch("train_chinesebert", f"probe-{k}", self.pretrain_argv(k == "fused", n, self.work / f"probe-{k}.safetensors",
                                                             self.work / f"probe-{k}", 2.0, 0), 4)
                for k in ("fused", "char")]
        self.wait(jobs, 240)
        per_step = []
        for _, _, logf in jobs:
            seen = {int(m[1]): float(m[2]) for m in STEP_LINE.finditer(logf.read_text())}
            hi = max(seen) if seen else 0
            lo = max((s for s in seen if s <= hi // 2), default=0)
            if not hi or not lo:
                raise SystemExit(f"speed probe failed: {logf.read_text()[-2000:]}")
            per_step.append((hi * seen[hi] - lo * seen[lo]) / (hi - lo))
        self.results["probe_seconds_per_step"] = per_step
        return max(per_step)

    def pretrain(self, per_step: float) -> dict[str, Path]:
        train_s = self.left() - self.args.reserve
        steps = max(50, int(train_s / per_step * 0.95))
        self.results["pretrain_steps"] = steps
        self.log(f"pre-training {steps} steps (probe {per_step:.3f}s/step, {train_s:.0f}s for training)")
        outs = {k: self.work / "zh" / f"chinesebert-mini-{k}.safetensors" for k in ("fused", "char")}
        jobs = [self.launch("train_chinesebert", f"pretrain-{k}", self.pretrain_argv(k == "fused", steps, outs[k], self.work / f"run-{k}",
                                                                train_s / 60 + 0.5, self.args.eval_chars), 4)
                for k in outs]
        self.wait(jobs, self.left() - 60)
        for k, path in outs.items():
            self.results[f"pretrain_{k}"] = read_meta(path)
        self.pack("lm", [p for p in outs.values() if p.exists()] + [self.work / "zh" / "vocab.txt"])
        return outs

    def classify(self, lms: dict[str, Path]) -> None:
        jobs, a = [], self.args
        minutes = max(0.5, (self.left() - 45) / 60 - 0.4)
        for k, lm in lms.items():
            if not lm.exists():
                continue
            for lr in a.cls_lrs:
                for seed in range(a.seeds):
                    out = self.work / "cls" / f"chnsenticorp-{k}-lr{lr}-seed{seed}.safetensors"
                    jobs.append(self.launch("train_chinesebert", out.stem, [
                        "classify", "--init", str(lm), "--epochs", str(a.cls_epochs), "--batch-size", "32",
                        "--seq-len", "256", "--lr", str(lr), "--seed", str(seed), "--bf16", "--workers", "1",
                        "--minutes", f"{minutes:.2f}", "--run-dir", str(self.work / f"run-{out.stem}"), "--out", str(out)], 1))
        self.wait(jobs, self.left() - 25)
        table, ship = {}, []
        for k in lms:
            for lr in a.cls_lrs:
                accs = [read_meta(self.work / "cls" / f"chnsenticorp-{k}-lr{lr}-seed{s}.safetensors").get("dev_accuracy")
                        for s in range(a.seeds)]
                accs = [x for x in accs if x is not None]
                if accs:
                    table[f"{k} lr={lr}"] = {"dev": accs, "mean": round(statistics.mean(accs), 4),
                                             "sd": round(statistics.pstdev(accs), 4)}
            best = max((lr for lr in a.cls_lrs if f"{k} lr={lr}" in table), default=None,
                       key=lambda lr: table[f"{k} lr={lr}"]["mean"])
            if best is not None:  # the shipped head: seed 0 of the better learning rate (chosen on dev, said so)
                ship.append(self.work / "cls" / f"chnsenticorp-{k}-lr{best}-seed0.safetensors")
        self.results["chnsenticorp"] = table
        self.pack("cls", [p for p in ship if p.exists()])

    def tasks(self, lms: dict[str, Path]) -> None:
        """CMRC 2018 spans and Weibo NER on each pre-trained model, 3 seeds each, side by side; seed 0 of the
        fused model ships (declared before the run)."""
        a, jobs = self.args, []
        minutes = max(0.3, (self.left() - 75) / 60)
        settings = {"qa": ["--epochs", str(a.qa_epochs), "--batch-size", "32", "--lr", str(a.task_lr)],
                    "ner": ["--epochs", str(a.ner_epochs), "--batch-size", "16", "--lr", str(a.task_lr)]}
        for task, extra in settings.items():
            for k, lm in lms.items():
                for seed in range(a.seeds):
                    out = self.work / "tasks" / f"{'cmrc' if task == 'qa' else 'weibo-ner'}-{k}-seed{seed}.safetensors"
                    jobs.append(self.launch("train_chinesebert", out.stem, [task, "--init", str(lm), *extra, "--seq-len", "256", "--seed",
                                                       str(seed), "--bf16", "--workers", "1", "--minutes",
                                                       f"{minutes:.2f}", "--run-dir", str(self.work / f"run-{out.stem}"),
                                                       "--out", str(out)], 1))
        self.wait(jobs, self.left() - 15)
        table = {}
        for _, _, logf in jobs:
            stem = logf.stem
            meta = read_meta(self.work / "tasks" / f"{stem}.safetensors")
            table[stem] = {"validation": meta.get("validation"), "steps_done": meta.get("steps_done"),
                           "steps": meta.get("steps")}
        self.results["tasks"] = table
        self.pack("tasks", [p for p in (self.work / "tasks" / "cmrc-fused-seed0.safetensors",
                                        self.work / "tasks" / "weibo-ner-fused-seed0.safetensors") if p.exists()])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_lease_arguments(ap, "gpu", "/tmp/zh-campaign", 540)
    ap.add_argument("--reserve", type=float, default=170, help="seconds kept for evaluation, saving and the heads")
    ap.add_argument("--probe-steps", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--mask-rate", type=float, default=0.3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--eval-chars", type=int, default=10000)
    ap.add_argument("--cls-lrs", type=float, nargs="+", default=[1e-4, 3e-4])
    ap.add_argument("--cls-epochs", type=float, default=2)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tasks-only", action="store_true",
                    help="skip pre-training: CMRC and Weibo NER on the bundle's lm/ models")
    ap.add_argument("--task-lr", type=float, default=2e-4)
    ap.add_argument("--qa-epochs", type=float, default=4)
    ap.add_argument("--ner-epochs", type=float, default=10)
    args = ap.parse_args()
    if args.build_bundle:
        return build_bundle(Path(args.build_bundle))
    c = Campaign(args)
    c.log(f"python {sys.version.split()[0]}; budget {args.budget}s")
    if args.tasks_only:
        c.tasks({k: c.bundle / "lm" / f"chinesebert-mini-{k}.safetensors" for k in ("fused", "char")})
    else:
        lms = c.pretrain(c.probe())
        c.classify(lms)
    c.log(f"done; {c.left():.0f}s of the budget left")
    c.save_results()


if __name__ == "__main__":
    main()
