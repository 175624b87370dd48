"""ChineseBERT (Sun et al., ACL 2021): character + glyph + pinyin fusion embeddings on BERT.

A re-implementation for transformers 5 that follows the paper's released code layer for layer,
with the same parameter names, so the official `ShannonAI/ChineseBERT-base` state dict loads:

  char     word_embeddings             Embedding(V, H)
  pinyin   pinyin_embeddings.embedding Embedding(32, 128) over 8 ids per character
           pinyin_embeddings.conv      Conv1d(128, H, kernel 2) -> max-pool over the 7 positions
  glyph    glyph_embeddings.embedding  Embedding(V, 3 fonts x 24 x 24 = 1728) (rendered bitmaps)
           glyph_map                   Linear(1728, H)
  fusion   map_fc                      Linear(3H, H) over [char; pinyin; glyph]
  then + position + token-type embeddings, LayerNorm, dropout -> BERT encoder (-> MLM head).

The tail (positions, token types, LayerNorm, dropout) is exactly BertEmbeddings' path for
`inputs_embeds`, so the fusion output is fed to BertModel as `inputs_embeds`.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import BertConfig, BertForMaskedLM, BertModel
from transformers.models.bert.modeling_bert import BertEmbeddings

PINYIN_VOCAB = 32  # "0"-"5" then "a"-"z"
PINYIN_LEN = 8  # ids per character
PINYIN_EMB = 128
GLYPH_FONTS, GLYPH_PX = 3, 24
GLYPH_DIM = GLYPH_FONTS * GLYPH_PX * GLYPH_PX  # 1728


class PinyinEmbedding(nn.Module):
    def __init__(self, out_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(PINYIN_VOCAB, PINYIN_EMB)
        self.conv = nn.Conv1d(PINYIN_EMB, out_dim, kernel_size=2, stride=1, padding=0)

    def forward(self, pinyin_ids: torch.Tensor) -> torch.Tensor:  # [b, s, 8] -> [b, s, H]
        b, s, n = pinyin_ids.shape
        x = self.embedding(pinyin_ids).view(b * s, n, -1).permute(0, 2, 1)  # [b*s, 128, 8]
        x = self.conv(x)  # [b*s, H, 7]
        return torch.nn.functional.max_pool1d(x, x.shape[-1]).view(b, s, -1)


class GlyphEmbedding(nn.Module):
    """One row per vocabulary entry: the character drawn in 3 fonts, 24x24 each, flattened."""

    def __init__(self, vocab_size: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, GLYPH_DIM)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(input_ids)


class FusionBertEmbeddings(BertEmbeddings):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        h = config.hidden_size
        self.pinyin_embeddings = PinyinEmbedding(h)
        self.glyph_embeddings = GlyphEmbedding(config.vocab_size)
        self.glyph_map = nn.Linear(GLYPH_DIM, h)
        self.map_fc = nn.Linear(3 * h, h)

    def parts(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three embeddings before fusion, each [b, s, H] (what the demo tab inspects)."""
        return {"char": self.word_embeddings(input_ids),
                "pinyin": self.pinyin_embeddings(pinyin_ids),
                "glyph": self.glyph_map(self.glyph_embeddings(input_ids))}

    def fuse(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor) -> torch.Tensor:
        p = self.parts(input_ids, pinyin_ids)
        return self.map_fc(torch.cat([p["char"], p["pinyin"], p["glyph"]], dim=-1))


class CharOnlyEmbeddings(BertEmbeddings):
    """The ablation: plain BERT embeddings (no glyph, no pinyin), same interface."""

    def fuse(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.word_embeddings(input_ids)


class ChineseBertModel(BertModel):
    """GlyceBertModel: BertModel whose embeddings take (input_ids, pinyin_ids)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        fusion = getattr(config, "fusion", True)
        self.embeddings = FusionBertEmbeddings(config) if fusion else CharOnlyEmbeddings(config)
        self.post_init()

    def forward(self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, **kwargs):
        if input_ids is None:
            raise ValueError("ChineseBertModel needs input_ids (glyphs are looked up by character id)")
        if pinyin_ids is None:
            pinyin_ids = torch.zeros(*input_ids.shape, PINYIN_LEN, dtype=torch.long, device=input_ids.device)
        pinyin_ids = pinyin_ids.view(*input_ids.shape, PINYIN_LEN)
        fused = self.embeddings.fuse(input_ids, pinyin_ids)
        return super().forward(inputs_embeds=fused, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               **kwargs)


class ChineseBertForMaskedLM(BertForMaskedLM):
    """GlyceBertForMaskedLM: the fusion model + BERT's MLM head (decoder tied to char embeddings)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = ChineseBertModel(config, add_pooling_layer=True)  # the official checkpoint has a pooler
        self.post_init()

    def forward(self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                **kwargs):
        out = self.bert(input_ids, pinyin_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        **kwargs)
        logits = self.cls(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]).float(), labels.view(-1))
        from transformers.modeling_outputs import MaskedLMOutput

        return MaskedLMOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)


def official_base_config() -> BertConfig:
    """ShannonAI/ChineseBERT-base: BERT-base sizes, vocabulary 23236, type_vocab_size 2."""
    return BertConfig(vocab_size=23236, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                      intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2)


# ---- the mini models we train and ship ----

def mini_config(vocab_size: int, fusion: bool, hidden: int = 256, layers: int = 4, heads: int = 4,
                max_len: int = 256, intermediate: int | None = None, act: str = "gelu") -> BertConfig:
    """A small ChineseBERT config (the embedded zh-fused / zh-char models); `fusion` False = char-only."""
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                     intermediate_size=intermediate or 4 * hidden, max_position_embeddings=max_len, type_vocab_size=2,
                     hidden_act=act)
    cfg.fusion = fusion
    return cfg


def shipped_state(model) -> dict[str, torch.Tensor]:
    """What we ship: every parameter except the rendered glyph table and the tied decoder."""
    return {k: v.detach().half().contiguous() for k, v in model.state_dict().items()
            if "glyph_embeddings" not in k and "position_ids" not in k and k != "cls.predictions.decoder.weight"}


class SentimentHead(torch.nn.Module):
    """[CLS] hidden state -> pooler (from pre-training) -> dropout -> 2 classes."""

    def __init__(self, lm: ChineseBertForMaskedLM):
        super().__init__()
        self.bert = lm.bert
        self.dropout = torch.nn.Dropout(0.1)
        self.classifier = torch.nn.Linear(lm.config.hidden_size, 2)

    def forward(self, input_ids, pinyin_ids, attention_mask, labels=None):
        out = self.bert(input_ids, pinyin_ids, attention_mask=attention_mask)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return loss, logits
