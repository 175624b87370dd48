"""The pre-trained encoders the lab adapts, behind the one interface the lab's model reads: called with
`input_ids`, `attention_mask`, `output_hidden_states`; `.embeddings.word_embeddings`, `.encoder.layer`, `.config`.

minilm    all-MiniLM-L6-v2 (the embedded English models' base): SST-2, CoNLL-2003, uploads
zh-fused  the shipped mini ChineseBERT (character + glyph + pinyin fusion): ChnSentiCorp. Each character's
          pinyin is read back from its id, as the shipped Chinese task heads do; the glyph table (rendered
          images of the characters) is never trained.
"""
from __future__ import annotations

import torch
from torch import nn

from models import embedded
from models.errors import WeightsError

ENCODERS = ("minilm", "zh-fused")


def load(name: str = "minilm") -> tuple[nn.Module, object]:
    """(encoder as pre-trained, its tokenizer)."""
    if name == "minilm":
        return minilm_encoder()
    if name == "zh-fused":
        return chinese_encoder(name)
    raise WeightsError(f"Unknown lab encoder '{name}'; the lab has {', '.join(ENCODERS)}.")


def minilm_encoder():
    """The MiniLM encoder as pre-trained (BertModel, no pooler) and its tokenizer: the embedded models' base."""
    from transformers import AutoConfig, AutoTokenizer, BertModel

    path = embedded.encoder_path()
    encoder = BertModel(AutoConfig.from_pretrained(path), add_pooling_layer=False)
    missing, unexpected = encoder.load_state_dict(embedded.load_encoder_state(path), strict=False)
    if missing or unexpected:
        raise WeightsError(f"encoder weights do not fit: missing={missing[:3]} unexpected={unexpected[:3]}")
    return encoder, AutoTokenizer.from_pretrained(path)


class ChineseEncoder(nn.Module):
    """The mini ChineseBERT's encoder as the lab calls an encoder (ids in, hidden states out)."""

    def __init__(self, bert: nn.Module, vocab: list[str]) -> None:
        super().__init__()
        self.bert, self.vocab, self.config = bert, vocab, bert.config

    @property
    def embeddings(self) -> nn.Module:
        return self.bert.embeddings

    @property
    def encoder(self) -> nn.Module:
        return self.bert.encoder

    def fixed_parameters(self) -> list[nn.Parameter]:
        glyphs = getattr(self.bert.embeddings, "glyph_embeddings", None)
        return list(glyphs.parameters()) if glyphs is not None else []

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False, **_):
        from models.chinese.model import pinyin_from_ids

        return self.bert(input_ids, pinyin_from_ids(input_ids, self.vocab), attention_mask=attention_mask,
                         output_hidden_states=output_hidden_states)


def chinese_encoder(name: str = "zh-fused"):
    """A fresh copy of the shipped mini ChineseBERT's encoder, read from its file (the app's loaded one stays
    untouched), and its tokenizer."""
    from models import registry
    from models.chinese import mlm

    lm = mlm.read_lm(mlm.weight_file(registry.get("chinese-mlm", name)), name)
    bert = lm.model.bert
    bert.pooler = None  # the lab's heads read the hidden states
    for p in bert.parameters():
        p.requires_grad = True
    return ChineseEncoder(bert.train(), mlm.vocab_list(lm.tokenizer)), lm.tokenizer
