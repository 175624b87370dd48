"""Train the embedded masked LM: an MLM head + LoRA adapters on the frozen MiniLM encoder.

General model (Wikipedia + web + news text):
    python -m recipes.prepare_corpora --data ../shared/data --out data/corpora
    python -m recipes.train_mlm --train data/corpora/general-train.txt \
        --eval data/corpora/wiki-heldout.txt data/corpora/imdb-heldout.jsonl \
        --steps 1200 --out weights/mlm-general.safetensors

Domain adaptation (continue from the general adapter on IMDB reviews, whole-word masking):
    python -m recipes.train_mlm --train data/corpora/imdb-train.txt --init weights/mlm-general.safetensors \
        --eval data/corpora/imdb-heldout.jsonl data/corpora/wiki-heldout.txt \
        --steps 600 --wwm --out weights/mlm-imdb.safetensors

Only masked positions go through the 30k-word vocabulary projection (most of the cost of an
MLM head). Checkpoints go to --run-dir every --save-every steps; rerunning the same command
resumes. Uses accelerate, so the same command trains on a GPU where one exists.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import DataCollatorForLanguageModeling

from models import embedded
from recipes import common
from models.readers import read_texts
from models.scoring import mask_fixed_positions, score_masked_lm


def pack(tokenizer, texts: list[str], seq_len: int) -> list[dict]:
    """Concatenate all texts and cut into seq_len windows (with [CLS]/[SEP]).

    Character offsets are shifted per text (plus a gap) so whole-word masking never joins
    the last word of one text with the first of the next.
    """
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    ids, offs, base = [], [], 0
    for t_ids, t_offs, text in zip(enc["input_ids"], enc["offset_mapping"], texts):
        ids += t_ids
        offs += [(a + base, b + base) for a, b in t_offs]
        base += len(text) + 2
    inner = seq_len - 2
    out = []
    for s in range(0, len(ids) - inner + 1, inner):
        out.append({
            "input_ids": [tokenizer.cls_token_id] + ids[s:s + inner] + [tokenizer.sep_token_id],
            "offset_mapping": [(0, 0)] + offs[s:s + inner] + [(0, 0)],
        })
    return out


class TokenWindows(torch.utils.data.Dataset):
    """seq_len windows ([CLS] ... [SEP]) cut from a `.ids.xz` token file (recipes/prepare_token_corpus.py)."""

    def __init__(self, ids, cls_id: int, sep_id: int, seq_len: int):
        inner = seq_len - 2
        self.rows = ids[:len(ids) // inner * inner].reshape(-1, inner)
        self.cls_id, self.sep_id = cls_id, sep_id

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": [self.cls_id, *self.rows[i].tolist(), self.sep_id]}


def training_windows(path: str, tokenizer, seq_len: int, max_texts: int | None):
    """Windows from a text corpus (packed here) or from a pre-tokenised `.ids.xz` file."""
    if path.endswith(".ids.xz"):
        from recipes.prepare_token_corpus import read_token_ids

        return TokenWindows(read_token_ids(path), tokenizer.cls_token_id, tokenizer.sep_token_id, seq_len)
    texts = read_texts(path)
    return pack(tokenizer, texts[:max_texts] if max_texts else texts, seq_len)


def evaluate(model, tokenizer, files: list[str], limit_tokens: int) -> dict:
    scores = {}
    for f in files:
        batch = mask_fixed_positions(tokenizer, read_texts(f), seed=0, limit_tokens=limit_tokens)
        scores[Path(f).stem] = score_masked_lm(model, tokenizer, batch)
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="text corpus (.txt/.jsonl/.jsonl.gz) or token file (.ids.xz)")
    ap.add_argument("--eval", nargs="*", default=[], help="held-out corpora scored before and after")
    ap.add_argument("--init", help="adapter to continue from (domain adaptation)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--run-dir", help="checkpoint folder (default runs/<out stem>)")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--head-only", action="store_true", help="baseline: train the head, no LoRA")
    ap.add_argument("--train-top", type=int, default=0, help="also train the top N encoder layers in full")
    ap.add_argument("--wwm", action="store_true", help="whole-word masking instead of token masking")
    ap.add_argument("--mask-rate", type=float, default=0.15, help="share of tokens masked (Wettig et al. 2023: up to 0.4)")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (CPU AMX / GPU); master weights stay fp32")
    ap.add_argument("--workers", type=int, default=0, help="data-loader processes (masking runs there)")
    ap.add_argument("--max-texts", type=int, help="subsample the training corpus")
    ap.add_argument("--eval-tokens", type=int, default=6000, help="masked tokens scored per eval file")
    ap.add_argument("--save-every", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=0,
                    help="stop after this many minutes (checkpoint saved; rerun the same command to go on)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    acc = Accelerator()
    model, tokenizer = embedded.build_masked_lm()
    init_meta = {}
    if args.init:
        state, init_meta = embedded.read_adapter(args.init)
        model = embedded.add_adapter(model, r=init_meta["lora_r"], alpha=init_meta["lora_alpha"])
        embedded.load_adapter_into(model, state)
    else:
        model = embedded.add_adapter(model, r=args.lora_r, alpha=2 * args.lora_r)
    if args.head_only:
        for n, p in model.named_parameters():
            if "lora_" in n:
                p.requires_grad = False
    args.train_top = max(args.train_top, init_meta.get("train_top") or 0)  # keep training what init trained
    common.train_top_layers(model, args.train_top)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    acc.print(f"trainable parameters: {n_train:,}")

    t0 = time.time()
    examples = training_windows(args.train, tokenizer, args.seq_len, args.max_texts)
    acc.print(f"{len(examples):,} windows of {args.seq_len} tokens ({len(examples) * args.seq_len:,} tokens) "
              f"in {time.time() - t0:.0f}s")
    if args.wwm and isinstance(examples, TokenWindows):
        raise SystemExit("--wwm needs a text corpus (word offsets); a token file has none")

    wwm = {"whole_word_mask": True} if args.wwm else {}  # (a keyword older transformers 5 releases lack)
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mask_rate, seed=args.seed, **wwm)
    loader = torch.utils.data.DataLoader(examples, batch_size=args.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(args.seed),
                                         num_workers=args.workers, persistent_workers=args.workers > 0)
    run_dir = common.run_dir_for(args.out, args.run_dir)
    start = common.continue_from_committed(model, args.out, run_dir)  # a time-boxed run on a new machine
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = common.optimizer_and_schedule(params, args.lr, args.steps)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    inner = acc.unwrap_model(model).base_model.model  # BertForMaskedLM with LoRA layers injected
    resuming = (run_dir / "state.pt").exists() or start
    before = evaluate(inner, tokenizer, args.eval, args.eval_tokens) if args.eval and not resuming else None
    if before:
        acc.print("before:", json.dumps(before))

    def loss_fn(batch):
        labels = batch["labels"]
        hidden = inner.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        sel = labels != -100
        logits = inner.cls(hidden[sel])  # vocabulary projection only at masked positions
        return torch.nn.functional.cross_entropy(logits.float(), labels[sel])

    train_s, step = common.train(acc, model, loader, opt, sched, args.steps, loss_fn, run_dir, args.save_every,
                                 minutes=args.minutes, bf16=args.bf16, start_step=start)
    after = evaluate(inner, tokenizer, args.eval, args.eval_tokens) if args.eval else None
    meta = {"task": "fill-mask", "train": Path(args.train).name, "init": Path(args.init).name if args.init else None,
            "steps": args.steps, "steps_done": step, "batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr,
            "wwm": args.wwm, "mask_rate": args.mask_rate, "bf16": args.bf16, "head_only": args.head_only, "train_top": args.train_top, "train_seconds": round(train_s),
            "eval_before": before, "eval_after": after,
            "command": common.command_line("train_mlm")}
    embedded.save_adapter(acc.unwrap_model(model), args.out, meta)
    acc.print("after:", json.dumps(after))
    acc.print(json.dumps({"out": args.out, "steps": args.steps, "train_seconds": round(train_s),
                          "trainable": n_train, "before": before, "after": after}))


if __name__ == "__main__":
    main()
