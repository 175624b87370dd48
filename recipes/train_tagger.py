"""Train the embedded taggers (NER on CoNLL-2003, UPOS on UD EWT) and the layer-selection probes.

Fine-tuning (LoRA on the frozen encoder + a linear tag head, labels on each word's first sub-token):
    python -m recipes.train_tagger ner --data ../shared/data --out weights/ner-conll2003.safetensors
    python -m recipes.train_tagger upos --data ../shared/data --out weights/upos-ewt.safetensors

Layer selection (frozen features, a linear tagger on each): embeddings only (layer 0), every
layer 1..6 on its own (the top layer is 6), and a learned softmax-weighted mix of all layers
(ELMo's scalar mix). Writes the table to weights/layer-probe-<task>.json for the README and the tab:
    python -m recipes.train_tagger ner --data ../shared/data --probe
    python -m recipes.train_tagger upos --data ../shared/data --probe
Train on eng.train / en_ewt-ud-train, validate on eng.testa / en_ewt-ud-dev. accelerate-ready.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from transformers import BertForTokenClassification

from models import embedded, readers, registry, scoring, tagging
from recipes import common

FILES = {"ner": ("conll2003/eng.train", "conll2003/eng.testa", readers.read_conll),
         "upos": ("ud_english_ewt/en_ewt-ud-train.conllu", "ud_english_ewt/en_ewt-ud-dev.conllu", readers.read_conllu)}


def label_list(sents) -> list[str]:
    labels = sorted({t for _, tags in sents for t in tags})
    return (["O"] + [l for l in labels if l != "O"]) if "O" in labels else labels


def encode(tokenizer, sents, label2id: dict[str, int], max_len: int) -> list[dict]:
    enc = tokenizer([w for w, _ in sents], is_split_into_words=True, truncation=True, max_length=max_len)
    feats = []
    for i, (_, tags) in enumerate(sents):
        prev, labels = None, []
        for wid in enc.word_ids(i):
            labels.append(-100 if wid is None or wid == prev else label2id[tags[wid]])
            prev = wid
        feats.append({"input_ids": enc["input_ids"][i], "labels": labels})
    return feats


def collate(batch, pad_id: int) -> dict:
    width = max(len(b["input_ids"]) for b in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for i, b in enumerate(batch):
        ids[i, :len(b["input_ids"])] = torch.tensor(b["input_ids"])
        labels[i, :len(b["labels"])] = torch.tensor(b["labels"])
    return {"input_ids": ids, "attention_mask": (ids != pad_id).long(), "labels": labels}


def score(task: str, tg: tagging.Tagger, sents) -> dict:
    return scoring.score_conll(tg, sents) if task == "ner" else scoring.score_upos(tg, sents)


def finetune(args, train, dev) -> None:
    acc = Accelerator()
    labels = label_list(train)
    label2id = {l: i for i, l in enumerate(labels)}
    config = {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": label2id}
    model, tok = embedded.build_model(BertForTokenClassification, **config)
    model = embedded.add_adapter(model, r=args.lora_r, alpha=2 * args.lora_r)
    common.train_top_layers(model, args.train_top)
    feats = encode(tok, train, label2id, args.max_len)
    loader = torch.utils.data.DataLoader(feats, batch_size=args.batch_size, shuffle=True,
                                         collate_fn=lambda b: collate(b, tok.pad_token_id),
                                         generator=torch.Generator().manual_seed(args.seed))
    steps = math.ceil(args.epochs * len(loader))
    params = [p for p in model.parameters() if p.requires_grad]
    acc.print(f"{len(train)} sentences, {len(labels)} labels, {sum(p.numel() for p in params):,} trainable, "
              f"{steps} steps")
    opt, sched = common.optimizer_and_schedule(params, args.lr, steps)
    model, opt, loader, sched = acc.prepare(model, opt, loader, sched)
    train_s, step = common.train(acc, model, loader, opt, sched, steps, lambda batch: model(**batch).loss,
                                 common.run_dir_for(args.out, args.run_dir), log_every=50, minutes=args.minutes,
                                 bf16=args.bf16)
    meta = {"task": args.task, "train": FILES[args.task][0], "epochs": args.epochs, "steps": steps,
            "steps_done": step, "lr": args.lr, "train_top": args.train_top, "bf16": args.bf16,
            "train_seconds_last_run": round(train_s), "command": common.command_line("train_tagger"),
            "config": {"num_labels": len(labels), "id2label": {str(i): l for i, l in enumerate(labels)}}}
    embedded.save_adapter(acc.unwrap_model(model), args.out, meta)
    merged, tok2, _ = embedded.load_embedded(args.out, BertForTokenClassification)
    tg = tagging.Tagger("trained", merged, tok2, registry.get("tagging", tagging.DEFAULT_MODEL))
    acc.print(json.dumps({"out": args.out, "steps": steps, "train_seconds": round(train_s),
                          "dev": score(args.task, tg, dev)}))


@torch.no_grad()
def word_features(model, tok, sents, batch_size: int = 64) -> tuple[torch.Tensor, list[int]]:
    """First-sub-token hidden states of every word at every layer: [n_words, n_layers + 1, hidden]."""
    feats, lengths = [], []
    for i in range(0, len(sents), batch_size):
        words = [w for w, _ in sents[i:i + batch_size]]
        enc = tok(words, is_split_into_words=True, truncation=True, max_length=128, padding=True,
                  return_tensors="pt")
        hs = torch.stack(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                               output_hidden_states=True).hidden_states, dim=2)  # [b, seq, L+1, H]
        for b in range(len(words)):
            firsts, prev = [], None
            for j, wid in enumerate(enc.word_ids(b)):
                if wid is not None and wid != prev:
                    firsts.append(j)
                prev = wid
            feats.append(hs[b, firsts].half())
            lengths.append(len(firsts))
    return torch.cat(feats), lengths


def probe(args, train, dev) -> None:
    """Linear taggers on frozen features: each layer alone, and a learned softmax mix of all layers."""
    from transformers import BertModel

    torch.manual_seed(args.seed)
    train = train[:args.probe_train]
    labels = label_list(train)
    label2id = {l: i for i, l in enumerate(labels)}
    encoder = BertModel.from_pretrained(embedded.encoder_path(), add_pooling_layer=False).eval()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded.encoder_path())
    t0 = time.time()
    xtr, len_tr = word_features(encoder, tok, train)
    xdv, len_dv = word_features(encoder, tok, dev)
    # words beyond 128 sub-tokens were truncated: keep the tags that have features
    ytr = torch.tensor([label2id[t] for (_, tags), n in zip(train, len_tr) for t in tags[:n]])
    print(f"features: {xtr.shape[0]} train words, {xdv.shape[0]} dev words, {time.time() - t0:.0f}s")
    n_layers = xtr.shape[1]

    def fit(mix: bool, layer: int = 0):
        lin = torch.nn.Linear(xtr.shape[2], len(labels))
        w = torch.nn.Parameter(torch.zeros(n_layers)) if mix else None
        groups = [{"params": list(lin.parameters()), "lr": 3e-3}] + ([{"params": [w], "lr": 3e-2}] if mix else [])
        opt = torch.optim.Adam(groups)

        def forward(x):
            x = x.float()
            h = (w.softmax(0)[None, :, None] * x).sum(1) if mix else x[:, layer]
            return lin(h)

        gen = torch.Generator().manual_seed(args.seed)
        for _ in range(args.probe_epochs):
            for idx in torch.randperm(len(ytr), generator=gen).split(512):
                loss = torch.nn.functional.cross_entropy(forward(xtr[idx]), ytr[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = forward(xdv).argmax(-1).tolist()
        return pred, (w.softmax(0).tolist() if mix else None)

    def metric(pred: list[int]) -> float:
        out, k = [], 0
        for (_, tags), n in zip(dev, len_dv):
            out.append([labels[p] for p in pred[k:k + n]] + ["O"] * (len(tags) - n))
            k += n
        gold = [t for _, t in dev]
        if args.task == "ner":
            from seqeval.metrics import f1_score

            return round(f1_score(gold, out), 4)
        flat = [(p, g) for ps, gs in zip(out, gold) for p, g in zip(ps, gs)]
        return round(sum(p == g for p, g in flat) / len(flat), 4)

    rows = []
    for layer in range(n_layers):
        pred, _ = fit(False, layer)
        name = "embeddings only (layer 0)" if layer == 0 else f"layer {layer}" + (" (top)" if layer == n_layers - 1 else "")
        rows.append({"features": name, "layer": layer, "metric": metric(pred)})
        print(json.dumps(rows[-1]), flush=True)
    pred, weights = fit(True)
    rows.append({"features": "softmax-weighted mix of all layers", "layer": None, "metric": metric(pred),
                 "mix_weights": [round(x, 4) for x in weights]})
    print(json.dumps(rows[-1]))
    result = {"task": args.task, "metric": "entity F1 (seqeval)" if args.task == "ner" else "UPOS accuracy",
              "train_sentences": len(train), "dev_sentences": len(dev), "epochs": args.probe_epochs,
              "seconds": round(time.time() - t0), "rows": rows}
    out = Path(args.probe_out or f"weights/layer-probe-{args.task}.json")
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("task", choices=sorted(FILES))
    ap.add_argument("--data", default=common.DATA_DIR)
    ap.add_argument("--out", help="adapter file (fine-tuning)")
    ap.add_argument("--probe", action="store_true", help="layer-selection probes instead of fine-tuning")
    ap.add_argument("--probe-out")
    ap.add_argument("--probe-train", type=int, default=4000, help="training sentences for the probes")
    ap.add_argument("--probe-epochs", type=int, default=4)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--limit", type=int, help="subsample the training sentences")
    ap.add_argument("--dev-limit", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-top", type=int, default=0, help="also train the top N encoder layers in full")
    ap.add_argument("--minutes", type=float, default=0,
                    help="stop after this many minutes (checkpoint saved; rerun the same command to go on)")
    ap.add_argument("--run-dir", help="checkpoint folder (default runs/<out stem>); rerunning resumes from it")
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast (AMX); master weights stay fp32")
    args = ap.parse_args()
    train_file, dev_file, reader = FILES[args.task]
    train = reader(Path(args.data) / train_file)[:args.limit]
    dev = reader(Path(args.data) / dev_file)[:args.dev_limit]
    if args.probe:
        probe(args, train, dev)
    else:
        if not args.out:
            ap.error("--out is required for fine-tuning")
        torch.manual_seed(args.seed)
        finetune(args, train, dev)


if __name__ == "__main__":
    main()
