"""The mini ChineseBERT's task models for the QA and tagging tabs: CMRC 2018 span extraction and Weibo NER.

Each file holds the whole fine-tuned encoder and its head (fp16, glyph table rendered at load), and is
rebuilt from its own metadata (sizes, fusion, labels), like the ChnSentiCorp heads. The models take token
ids only (pinyin is read back from the characters), so qa.py and tagging.py run them unchanged.
"""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file

from models import chinesebert, embedded
from models.chinese_mlm import fill_glyph_table, make_tokenizer
from models.errors import WeightsError

KINDS = {"zh-qa": "span extraction (CMRC 2018)", "zh-ner": "named entities (Weibo NER)"}


def vocab_of(tok) -> list[str]:
    return tok.convert_ids_to_tokens(list(range(len(tok))))


def build(kind: str, lm: chinesebert.ChineseBertForMaskedLM, tok, labels: list[str] | None = None):
    if kind == "zh-qa":
        return chinesebert.ChineseBertForQuestionAnswering(lm, vocab_of(tok))
    if kind == "zh-ner":
        return chinesebert.ChineseBertForTokenClassification(lm, vocab_of(tok), labels or [])
    raise WeightsError(f"unknown Chinese task '{kind}' (known: {', '.join(KINDS)})")


def save(model, path: str | Path, meta: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(chinesebert.shipped_state(model), str(path), metadata={k: json.dumps(v) for k, v in meta.items()})


def load_file(path: str | Path):
    """(model, tokenizer, meta) from a task file with vocab.txt beside it; eval mode."""
    state, meta = embedded.read_adapter(Path(path))
    tok = make_tokenizer(Path(path).parent / "vocab.txt")
    lm = chinesebert.ChineseBertForMaskedLM(chinesebert.mini_config(len(tok), meta["fusion"], **meta["size"]))
    lm.set_attn_implementation("eager")  # "Look inside" shows these models' attention weights
    model = build(meta["task"], lm, tok, meta.get("labels"))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or [k for k in missing if "glyph_embeddings" not in k and "position_ids" not in k]:
        raise WeightsError(f"{Path(path).name} does not fit: missing={missing[:3]} unexpected={unexpected[:3]}")
    fill_glyph_table(lm, tok)
    model.eval()
    return model, tok, meta
