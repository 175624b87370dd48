"""What a task's model read for one request: the trace every "Look inside" view and batch row reads.

Each task module builds its trace with one function (`fill_mask.trace`, `qa.trace`, `tagging.trace`), the same
function its predict() runs, and predict() returns it on the result (`result.trace`). The views take that trace
instead of tokenizing the text again, so what a view explains is, token for token, what the tab ran.

`encode_texts` is the one other place the views meet a tokenizer: texts that are no task's input (a corpus to
search, a data set to project), read as plain sentences.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Trace:
    task: str
    model: str
    windows: list[list[int]]  # the token ids of every row the model ran (one per window / chunk), no padding
    tokens: list[str]  # the first window's tokens
    notices: list[str] = field(default_factory=list)
    token_type_ids: list[list[int]] | None = None  # per window, where the model reads segments (QA pairs)
    spans: list[tuple[int, int]] | None = None  # per window, which part of the input it covers (chars or words)

    @property
    def input_ids(self) -> list[int]:
        """The first window's ids: what a view draws."""
        return self.windows[0]

    def batch(self, window: int = 0) -> dict[str, torch.Tensor]:
        """One window as a [1, n] model input (no padding)."""
        ids = self.windows[window]
        out = {"input_ids": torch.tensor([ids]), "attention_mask": torch.ones(1, len(ids), dtype=torch.long)}
        if self.token_type_ids is not None:
            out["token_type_ids"] = torch.tensor([self.token_type_ids[window]])
        return out

    def to_dict(self) -> dict:
        return {"task": self.task, "model": self.model, "windows": self.windows, "spans": self.spans}


NO_TOKEN_TYPES = ("distilbert", "roberta", "xlm-roberta")  # model types that take no token_type_ids


def model_keys(enc, model) -> list[str]:
    """The keys of a tokenizer's output that the model reads (no token types for RoBERTa / DistilBERT)."""
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    return [k for k in keys if k != "token_type_ids" or model.config.model_type not in NO_TOKEN_TYPES]


def model_inputs(enc, model) -> dict[str, torch.Tensor]:
    return {k: enc[k] for k in model_keys(enc, model)}


def encode_texts(tokenizer, texts: list[str], max_tokens: int) -> dict[str, torch.Tensor]:
    """Sentences that are not a task's input (a corpus, a data set to project), padded into one batch."""
    return dict(tokenizer(list(texts), padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"))


def encode_with_offsets(tokenizer, text: str, max_tokens: int) -> tuple[list[int], list[tuple[int, int]]]:
    """One text's ids and each token's character span, for attribution over its words (the caller checks the
    ids are the ones its task runs)."""
    enc = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=max_tokens)
    return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]]
