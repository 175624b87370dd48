"""The mini ChineseBERT's task models for the QA and tagging tabs: CMRC 2018 span extraction and Weibo NER.

Each file holds the whole fine-tuned encoder and its head (fp16, glyph table rendered at load), and is
rebuilt from its own metadata (sizes, fusion, labels), like the ChnSentiCorp heads. The models take token
ids only (pinyin is read back from the characters), so qa.py and tagging.py run them unchanged. They are
written by chinese_mlm.save_mini, as every mini model file.
"""
from __future__ import annotations

from pathlib import Path

from models.chinese import model as chinesebert
from models.chinese.mlm import read_head, vocab_list
from models.errors import WeightsError

KINDS = {"zh-qa": "span extraction (CMRC 2018)", "zh-ner": "named entities (Weibo NER)"}


def build(kind: str, lm: chinesebert.ChineseBertForMaskedLM, tok, labels: list[str] | None = None):
    if kind == "zh-qa":
        return chinesebert.ChineseBertForQuestionAnswering(lm, vocab_list(tok))
    if kind == "zh-ner":
        return chinesebert.ChineseBertForTokenClassification(lm, vocab_list(tok), labels or [])
    raise WeightsError(f"unknown Chinese task '{kind}' (known: {', '.join(KINDS)})")


def load_file(path: str | Path):
    """(model, tokenizer, meta) from a task file with vocab.txt beside it; eval mode. Eager attention:
    "Look inside" shows these models' attention weights."""
    return read_head(path, lambda lm, tok, meta: build(meta["task"], lm, tok, meta.get("labels")), "eager")
