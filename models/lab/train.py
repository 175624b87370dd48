"""One time-boxed training run of one strategy: what trains, the loop, the curves and the final dev metric."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from models.errors import InputError
from models.lab import batches, data as lab_data, fewshot, multitask, self_ensemble, strategies, tokens, two_stage
from models.lab.data import TaskData
from models.lab.model import MAX_LEN, LabModel

BATCH, EVAL_EVERY, CURVE_DEV = 32, 20, 200
POINT_SECONDS = 5.0  # a curve point at least this often (slow strategies make few steps), and one at the end


@dataclass
class RunResult:
    strategy: str
    task: str
    metric: float  # the development metric at the end: accuracy (sentence tasks) or entity F1 (token tasks)
    trainable_params: int
    stored_mb: float  # what must be kept per task (the trainable tensors, fp16)
    seconds: float  # training time (the model load not counted)
    steps: int
    epochs: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, mean loss since the last point)
    dev_curve: list[tuple[int, float]] = field(default_factory=list)  # (step, the metric on the first dev rows)
    mix_weights: list[float] | None = None  # scalar mix: softmax weight per layer (0 = embeddings)
    unfrozen_per_epoch: list[list[int]] | None = None  # scheduled strategies: encoder layers trainable each epoch
    peft_trainable: int | None = None  # adapter strategies: what peft itself counts
    model: LabModel | None = field(default=None, repr=False)  # the trained model (a tab runs it on a sentence)
    stage_one_steps: int = 0  # two-stage: the masked-LM steps before the task's (counted in `steps` too)

    def summary(self) -> dict:
        return {"strategy": self.strategy, "task": self.task, "metric": round(self.metric, 4),
                "trainable_params": self.trainable_params, "stored_mb": round(self.stored_mb, 3),
                "seconds": round(self.seconds, 1), "steps": self.steps, "epochs": round(self.epochs, 2),
                **({"mix_weights": [round(w, 3) for w in self.mix_weights]} if self.mix_weights else {})}


def make_trainable(model: LabModel, s: strategies.Strategy) -> int | None:
    """Freeze / wrap the encoder as the strategy says; returns peft's own trainable count for adapters."""
    for p in model.encoder.parameters():
        p.requires_grad = s.train in ("all",) and not s.scheduled
    if s.train == "bias":
        for name, p in model.encoder.named_parameters():
            p.requires_grad = name.endswith(".bias")
    _keep_fixed(model)
    if s.train in ("lora", "ia3"):
        from peft import IA3Config, LoraConfig, get_peft_model

        config = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query", "value"]) \
            if s.train == "lora" else IA3Config(target_modules=["key", "value", "output.dense"],
                                                feedforward_modules=["output.dense"])
        model.encoder = get_peft_model(model.encoder, config)
        return model.encoder.get_nb_trainable_parameters()[0]
    return None


def _keep_fixed(model: LabModel) -> None:
    """Tensors no strategy trains: the ChineseBERT's glyph table (the characters' rendered images)."""
    for p in getattr(model.encoder, "fixed_parameters", lambda: [])():
        p.requires_grad = False


def _blocks(model: LabModel) -> list[nn.Module]:
    base = model.encoder.get_base_model() if hasattr(model.encoder, "get_base_model") else model.encoder
    return list(base.encoder.layer)


def set_schedule(model: LabModel, s: strategies.Strategy, epoch: int) -> list[int]:
    """What trains in `epoch` for a scheduled strategy; returns the encoder layers that do. Gradual unfreezing
    (ULMFiT): top down, the embeddings once every layer does, the head throughout. Chain-thaw: the head alone,
    each layer alone, then all."""
    if s.chain_thaw:
        layers, head = strategies.chain_thaw_layers(model.n_layers, epoch)
        embeddings = epoch > model.n_layers
    else:
        layers, head = strategies.unfrozen_layers(model.n_layers, epoch), True
        embeddings = epoch >= model.n_layers
    for i, block in enumerate(_blocks(model)):
        for p in block.parameters():
            p.requires_grad = i in layers
    for p in model.encoder.embeddings.parameters():
        p.requires_grad = embeddings
    for p in model.head.parameters():
        p.requires_grad = head
    _keep_fixed(model)
    return layers


def _param_groups(model: LabModel, s: strategies.Strategy) -> list[dict]:
    if s.lr_decay == 1.0:
        return [{"params": list(model.parameters()), "lr": s.lr}]
    blocks, seen, groups = _blocks(model), set(), []
    for depth, block in enumerate(reversed(blocks)):  # depth 0 = the top layer
        params = list(block.parameters())
        seen |= {id(p) for p in params}
        groups.append({"params": params, "lr": s.lr / s.lr_decay ** depth})
    emb = list(model.encoder.embeddings.parameters())
    seen |= {id(p) for p in emb}
    groups.append({"params": emb, "lr": s.lr / s.lr_decay ** len(blocks)})
    groups.append({"params": [p for p in model.parameters() if id(p) not in seen], "lr": s.lr})  # head, mix
    return groups


def _encode(tokenizer, rows: list[tuple], kind: str = lab_data.SENTENCE, max_len: int = MAX_LEN) -> list[tuple]:
    if kind == lab_data.TOKENS:
        return tokens.encode(tokenizer, rows)
    return batches.encode_sentences(tokenizer, rows, max_len)


@torch.no_grad()
def _pooled(model: LabModel, items, pad: int) -> torch.Tensor:
    """Pooled layers of every row [n_layers + 1, n, hidden]: computed once for a frozen encoder."""
    model.eval()
    out = [model.pooled_layers(*batches.collate(items[i:i + 64], pad)[:2]) for i in range(0, len(items), 64)]
    return torch.cat(out, dim=1)


@torch.no_grad()
def _metric(model: LabModel, items, data: TaskData, pad: int, cached: torch.Tensor | None = None) -> float:
    """The task's development metric: accuracy, or entity F1 for a token task."""
    if data.kind == lab_data.TOKENS:
        return tokens.entity_f1(model, items, data.labels, pad)
    model.eval()
    gold = torch.tensor([label for _, label in items])
    if cached is not None:
        pred = model.classify(cached).argmax(-1)
    else:
        pred = torch.cat([model(*batches.collate(items[i:i + 64], pad)[:2]).argmax(-1)
                          for i in range(0, len(items), 64)])
    return float((pred == gold).float().mean())


def run(name: str, data: TaskData, seconds: float = 30, seed: int = 0, max_steps: int | None = None,
        max_epochs: int = 20, progress: Callable[[str, float], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_point: Callable[[int, float, float], None] | None = None,
        prepare: Callable[["_Run"], None] | None = None, curves: bool = True) -> RunResult:
    """Train strategy `name` on `data` until `seconds` (or `max_steps`, or `max_epochs`) run out.
    `on_point(step, loss, dev accuracy)`: each curve point as it is measured (the tab draws them live).
    `prepare(run)`: changes the run before its first step (the supervised recipe freezes the word embeddings
    and sets a learning-rate schedule). `curves=False`: no curve points while training, only the final metric
    (the recorded comparison: the same training, less evaluation)."""
    s = strategies.get(name)
    why = strategies.unsupported(s, data.kind, data.encoder)
    if why:
        raise InputError(why)
    if s.train in strategies.SENTENCE_ONLY:  # the prompt tab's few-shot methods: their own training loops
        return RunResult(**fewshot.run(name, data, seed))
    r = _Run(s, data, seconds, seed, max_steps, progress, should_stop, on_point)
    r.curves = curves
    if prepare is not None:
        prepare(r)
    while not r.done and r.epoch < max_epochs:
        r.rng.shuffle(r.order)
        for b in range(0, len(r.order), BATCH):
            r.step(r.order[b:b + BATCH])
            if r.done:
                break
        r.epoch += 1
        if r.s.scheduled and not r.done:
            r.unfrozen.append(set_schedule(r.model, r.s, r.epoch))
    return r.result()


class _Run:
    """One strategy's training state: the model as the strategy prepares it, the data, the optimiser, the
    curves, and the extras some strategies add (stage one, the second task's head, an averaged model)."""

    def __init__(self, s: strategies.Strategy, data: TaskData, seconds: float, seed: int, max_steps: int | None,
                 progress, should_stop, on_point) -> None:
        self.s, self.data, self.seconds, self.progress, self.should_stop, self.on_point = (
            s, data, seconds, progress, should_stop, on_point)
        torch.manual_seed(seed)
        self.rng = random.Random(seed)
        aux_rows, aux_labels = multitask.aux_task(data, seed) if s.multitask else ([], [])
        self.model = model = LabModel(s, len(data.labels), len(aux_labels), tokens=data.kind == lab_data.TOKENS,
                                      encoder=data.encoder)
        self.peft_count = make_trainable(model, s)
        self.pad = model.tokenizer.pad_token_id
        self.train = _encode(model.tokenizer, data.train, data.kind, data.max_len)
        self.dev = _encode(model.tokenizer, data.dev, data.kind, data.max_len)
        self.aux = multitask.encode_aux(model.tokenizer, data, aux_rows) if s.multitask else None
        self.t0 = self.last_point = time.perf_counter()
        self.stage_one_steps = 0
        if s.stage_one == "mlm":  # two-stage: a third of the budget on masked-LM steps, then the task from there
            texts = [" ".join(t) if data.kind == lab_data.TOKENS else t for t, _ in data.train]
            self.stage_one_steps = two_stage.mlm_steps(model, texts,
                                                       steps=max_steps // 3 if max_steps else None,
                                                       seconds=None if max_steps else seconds / 3)
        self.max_steps = max_steps - self.stage_one_steps if max_steps else None
        self.cached = self.cached_dev = None
        if s.frozen_encoder and data.kind == lab_data.SENTENCE:  # the encoder never changes: its pooled features
            # once, then only the head (and mix) train (a token task's per-token features would not fit in memory)
            self.cached, self.cached_dev = _pooled(model, self.train, self.pad), _pooled(model, self.dev, self.pad)
            # the budget is for training steps: computing the features (40 s for 2,500 Chinese reviews, whose
            # pinyin is read on the way) is preprocessing, like tokenizing, and used up the whole budget
            self.t0 = self.last_point = time.perf_counter()
        self.unfrozen = [set_schedule(model, s, 0)] if s.scheduled else []
        self.optimiser = torch.optim.AdamW(_param_groups(model, s), weight_decay=0.01)
        self.averaged = self_ensemble.averaged_model(model, s)
        self.loss_fn = tokens.loss if data.kind == lab_data.TOKENS else nn.CrossEntropyLoss()
        self.n, self.epoch, self.losses, self.loss_curve, self.dev_curve = 0, 0, [], [], []
        self.order, self.done = list(range(len(self.train))), False
        self.scheduler = None  # a learning-rate schedule, where `prepare` sets one
        self.curves = True  # curve points while training (False: only at the end)

    def step(self, idx: list[int]) -> None:
        model = self.model
        model.train()
        if self.cached is not None:
            logits = model.classify(self.cached[:, idx])
            gold = torch.tensor([self.train[i][1] for i in idx])
            x = mask = None
        else:
            x, mask, gold = batches.collate([self.train[i] for i in idx], self.pad)
            logits = model(x, mask)
        loss = self.loss_fn(logits, gold)
        if self.aux is not None:  # multi-task: the entity head's loss on a batch of its own, same encoder
            loss = loss + multitask.aux_loss(model, self.aux, self.rng, BATCH, self.pad)
        if self.averaged is not None and self.s.distill:  # self-distillation: the averaged model teaches
            loss = loss + self_ensemble.distill_loss(self.averaged, x, mask, logits, self.s.distill)
        self.optimiser.zero_grad()
        loss.backward()
        self.optimiser.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.n += 1
        self.losses.append(loss.item())
        if self.averaged is not None and (self.s.distill or self.n % self_ensemble.EVERY == 0):
            self.averaged.update_parameters(model)
        self.done = self.should_stop() or bool(self.max_steps and self.n >= self.max_steps) or \
            (not self.max_steps and time.perf_counter() - self.t0 >= self.seconds)
        due = self.n % EVAL_EVERY == 0 or time.perf_counter() - self.last_point >= POINT_SECONDS
        if (self.curves and due) or self.done:
            self.point()

    def point(self) -> None:
        self.loss_curve.append((self.n, sum(self.losses) / len(self.losses)))
        self.losses = []
        sub = self.cached_dev[:, :CURVE_DEV] if self.cached_dev is not None else None
        self.dev_curve.append((self.n, _metric(self.model, self.dev[:CURVE_DEV], self.data, self.pad, sub)))
        self.last_point = time.perf_counter()
        if self.on_point:
            self.on_point(self.n, self.loss_curve[-1][1], self.dev_curve[-1][1])
        if self.progress:
            self.progress(f"{self.s.name}: step {self.n}, dev {self.data.metric_name} {self.dev_curve[-1][1]:.3f}",
                          min(1.0, (time.perf_counter() - self.t0) / self.seconds))

    def result(self) -> RunResult:
        elapsed = time.perf_counter() - self.t0
        if self.losses:  # the epoch limit ended it between points: the last point
            self.point()
        model = self.model
        if self.averaged is not None and not self.s.distill:  # self-ensemble: the average is the model
            model = self_ensemble.final_model(self.averaged, self.model)
        metric = _metric(model, self.dev, self.data, self.pad, self.cached_dev)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        return RunResult(self.s.name, self.data.task, metric, trainable, trainable * 2 / 1e6, elapsed,
                         self.n + self.stage_one_steps, self.n * BATCH / max(1, len(self.train)), self.loss_curve,
                         self.dev_curve, model.mix.layer_weights().tolist() if model.mix is not None else None,
                         self.unfrozen or None, self.peft_count, model, self.stage_one_steps)
