"""The fine-tuning strategies of the lab, each a named recipe of what feeds the head and what trains.

Groups follow the survey of pre-trained models (Qiu et al. 2020, section on fine-tuning): which
representation feeds the head; frozen encoder (feature extraction) vs fine-tuning; extra adaptation modules
with the encoder frozen; and schedules (discriminative learning rates, gradual unfreezing).
"""
from __future__ import annotations

from dataclasses import dataclass

from models.errors import InputError


@dataclass(frozen=True)
class Strategy:
    name: str
    group: str
    summary: str
    layer: str = "top"  # what feeds the head: "embeddings", "layer-N", "middle", "top", "mix" (scalar mix)
    train: str = "head"  # "head" (encoder frozen), "all", "bias" (BitFit), "lora", "ia3"
    lr: float = 1e-3
    lr_decay: float = 1.0  # discriminative: each layer below the top trains at lr / lr_decay**depth
    gradual: bool = False  # ULMFiT: the top layer first, one more each epoch (the head trains throughout)
    chain_thaw: bool = False  # Felbo et al. 2017: the head alone, then each layer alone bottom up, then all
    stage_one: str | None = None  # two-stage: "mlm" = masked-LM steps on the task's own texts first
    multitask: bool = False  # a second head (CoNLL-2003 entities) trained on the same encoder at every step
    prompt_tokens: int = 0  # prompt tuning: learned input vectors (train="prompt")
    average: bool = False  # self-ensemble: the model kept is the average of its checkpoints' weights
    distill: float = 0.0  # self-distillation: weight of the loss towards the averaged model's logits

    @property
    def frozen_encoder(self) -> bool:
        """Does the encoder stay exactly as pre-trained (so its features can be computed once)?"""
        return self.train == "head" and not self.scheduled

    @property
    def scheduled(self) -> bool:
        """Does what trains change from epoch to epoch?"""
        return self.gradual or self.chain_thaw


STRATEGIES = [
    Strategy("frozen-embeddings", "representation", "encoder frozen; the head reads the embedding layer only "
             "(no context): how much the word vectors alone know", layer="embeddings"),
    Strategy("frozen-middle", "representation", "encoder frozen; the head reads the middle layer (3 of 6)", layer="middle"),
    Strategy("frozen-top", "representation", "encoder frozen; the head reads the top layer (feature extraction)"),
    Strategy("frozen-scalar-mix", "representation", "encoder frozen; the head reads a learned softmax-weighted sum "
             "of every layer, times a scale gamma (ELMo's scalar mix)", layer="mix"),
    Strategy("full", "fine-tuning", "every encoder weight and the head trained (standard fine-tuning)",
             train="all", lr=5e-5),
    Strategy("discriminative-lr", "fine-tuning", "full fine-tuning, each layer down at the rate of the one above "
             "/ 2.6 (ULMFiT's discriminative learning rates)", train="all", lr=1e-4, lr_decay=2.6),
    Strategy("gradual-unfreezing", "fine-tuning", "the head first with the top layer, one more layer unfrozen each "
             "epoch, top down (ULMFiT)", train="all", lr=5e-5, gradual=True),
    Strategy("chain-thaw", "fine-tuning", "the head alone for an epoch, then each layer alone, bottom up, an "
             "epoch each, then everything (chain-thaw, Felbo et al. 2017)", train="all", lr=5e-5, chain_thaw=True),
    Strategy("adapter", "adaptation module", "encoder frozen; a bottleneck (384 -> 32 -> 384, residual) after "
             "each layer's feed-forward, initialised to do nothing (Houlsby et al. 2019)", train="adapter", lr=1e-3),
    Strategy("bitfit", "adaptation module", "encoder frozen except its bias terms (BitFit: 0.1 % of the weights)",
             train="bias", lr=1e-3),
    Strategy("lora", "adaptation module", "encoder frozen; low-rank updates (r=8) on the attention's query and "
             "value (LoRA, through peft)", train="lora", lr=1e-3),
    Strategy("prompt-tuning", "adaptation module", "encoder frozen; 20 learned vectors put in front of the input "
             "embeddings, read by every layer (prompt tuning, Lester et al. 2021)", train="prompt", lr=3e-2,
             prompt_tokens=20),
    Strategy("two-stage-mlm", "two-stage", "a third of the steps masked-LM training on the task's own texts "
             "(domain adaptation, as ULMFiT and DAPT do), then full fine-tuning from those weights",
             train="all", lr=5e-5, stage_one="mlm"),
    Strategy("multi-task", "multi-task", "full fine-tuning of one shared encoder with two heads trained together "
             "at every step: this task's and CoNLL-2003 named entities (MT-DNN style)", train="all", lr=5e-5,
             multitask=True),
    Strategy("self-ensemble", "self-ensemble", "full fine-tuning; the model kept is the average of the weights "
             "of its checkpoints, one every 10 steps (parameter averaging, Xu et al. 2020)", train="all", lr=5e-5,
             average=True),
    Strategy("self-distillation", "self-ensemble", "full fine-tuning plus a loss pulling its logits towards "
             "those of a running average of its own past weights, the teacher (Xu et al. 2020)", train="all",
             lr=5e-5, average=True, distill=1.0),
    Strategy("setfit", "few-shot", "the prompt tab's SetFit: contrastive pair tuning of the sentence encoder, "
             "then a logistic-regression head, on 32 rows per label (Tunstall et al. 2022)", train="setfit"),
    Strategy("prompt-finetune", "few-shot", "the prompt tab's prompt-based fine-tuning: cloze scores of the "
             "label words at the mask, bias and LayerNorm terms tuned, on 32 rows per label (LM-BFF style)",
             train="prompt-ft"),
    Strategy("ia3", "adaptation module", "encoder frozen; learned rescaling of keys, values and the feed-forward "
             "(IA3, through peft)", train="ia3", lr=5e-3),
]
BY_NAME = {s.name: s for s in STRATEGIES}
SENTENCE_ONLY = ("setfit", "prompt-ft")  # `train` kinds with no form for a task that labels each word


def unsupported(s: Strategy, kind: str, encoder: str) -> str | None:
    """Why strategy `s` cannot run on a task of `kind` ("sentence" / "tokens") on `encoder`; None when it can."""
    if s.train in SENTENCE_ONLY and kind != "sentence":
        return f"{s.name} classifies whole texts; this task labels each word."
    if encoder != "minilm":
        why = ("the prompt tab's English models" if s.train in SENTENCE_ONLY else
               "an English second task" if s.multitask else "the English masked-LM head" if s.stage_one else
               "input vectors fed past the glyph and pinyin fusion" if s.prompt_tokens else None)
        if why:
            return f"{s.name} needs {why}; it does not run on the mini ChineseBERT."
    return None
DEFAULT = ("frozen-scalar-mix", "lora", "full")  # the live run a visitor starts with: ~30 s each


def get(name: str) -> Strategy:
    if name not in BY_NAME:
        raise InputError(f"Unknown strategy '{name}'; choose from: {', '.join(BY_NAME)}.")
    return BY_NAME[name]


def chain_thaw_layers(n_layers: int, epoch: int) -> tuple[list[int], bool]:
    """Chain-thaw: (the encoder layers trainable in `epoch`, whether the head trains): the head alone first,
    then layer 0, 1, ... alone, then every layer and the head together."""
    if epoch == 0:
        return [], True
    if epoch <= n_layers:
        return [epoch - 1], False
    return list(range(n_layers)), True


def unfrozen_layers(n_layers: int, epoch: int) -> list[int]:
    """Gradual unfreezing: the encoder layers (0-based) trainable in `epoch` (0-based): the top one in the
    first epoch, one more below it each epoch after, until all are."""
    return list(range(max(0, n_layers - 1 - epoch), n_layers))
