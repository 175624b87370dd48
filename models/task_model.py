"""A registry checkpoint as a loaded model of one task: embedded (MiniLM adapter or mini ChineseBERT task file)
or a Hub checkpoint, chosen by the checkpoint's source and family, never by its name or path."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models import embedded, registry
from models.chinese import tasks as chinese_tasks
from models.loading import cached_load, from_hub
from models import thread_safe
from models.registry import Checkpoint, Family, Source


def load_checkpoint(ck: Checkpoint, embedded_cls, hub_cls) -> tuple[Any, Any, dict]:
    """(model, tokenizer, meta) for a checkpoint: an embedded adapter on the MiniLM encoder built as
    `embedded_cls`, or a Hub model through `hub_cls`. Eager attention, so attentions can be captured."""
    if ck.source is Source.EMBEDDED and ck.family is Family.CHINESEBERT:  # a mini ChineseBERT task file
        return chinese_tasks.load_file(embedded.WEIGHTS_DIR / ck.location)
    if ck.source is Source.EMBEDDED:
        return embedded.load_embedded(embedded.WEIGHTS_DIR / ck.location, embedded_cls, attn_implementation="eager")
    from transformers import AutoTokenizer

    tok = from_hub(AutoTokenizer.from_pretrained, ck.location)
    # safetensors only: a pickled .bin from the Hub could run code when loaded
    model = from_hub(hub_cls.from_pretrained, ck.location, attn_implementation="eager", use_safetensors=True)
    model.eval()
    return model, tok, {}


@dataclass
class TaskModel:
    """A loaded checkpoint of one task: what every task module returns from load()."""
    name: str
    model: Any  # a transformers PreTrainedModel
    tokenizer: Any
    checkpoint: Checkpoint
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tokenizer = thread_safe.guard(self.tokenizer)  # concurrent requests share it (models/batching.py)

    @property
    def max_tokens(self) -> int:
        return model_window(self.model)


def load_task_model(task: str, name: str, wrap: type, embedded_cls, hub_cls):
    """The task's checkpoint `name`, built once per process as `wrap` (a TaskModel subclass): an embedded
    adapter on the MiniLM encoder as `embedded_cls`, or a Hub model as `hub_cls` (kept under the LRU budget)."""
    ck = registry.get(task, name)

    def build():
        model, tok, meta = load_checkpoint(ck, embedded_cls, hub_cls)
        return wrap(ck.name, model, tok, ck, meta)

    return cached_load((task, name), build, evictable=ck.needs_hub)


def model_window(model) -> int:
    """Tokens per forward pass, special tokens included."""
    limit = getattr(model.config, "max_position_embeddings", 512)
    if model.config.model_type in ("roberta", "xlm-roberta", "camembert"):
        limit -= 2  # RoBERTa offsets positions by padding_idx + 1
    return min(limit, 512)
