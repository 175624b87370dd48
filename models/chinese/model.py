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

import copy
import functools

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

    def fuse(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor, char: torch.Tensor | None = None) -> torch.Tensor:
        p = self.parts(input_ids, pinyin_ids)
        if char is not None:  # given char embeddings (gradients w.r.t. them); glyph and pinyin still from the ids
            p["char"] = char
        return self.map_fc(torch.cat([p["char"], p["pinyin"], p["glyph"]], dim=-1))


class CharOnlyEmbeddings(BertEmbeddings):
    """The ablation: plain BERT embeddings (no glyph, no pinyin), same interface."""

    def fuse(self, input_ids: torch.Tensor, pinyin_ids: torch.Tensor | None = None,
             char: torch.Tensor | None = None) -> torch.Tensor:
        return self.word_embeddings(input_ids) if char is None else char


class ChineseBertModel(BertModel):
    """GlyceBertModel: BertModel whose embeddings take (input_ids, pinyin_ids)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer=add_pooling_layer)
        fusion = getattr(config, "fusion", True)
        self.embeddings = FusionBertEmbeddings(config) if fusion else CharOnlyEmbeddings(config)
        self.post_init()

    def forward(self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, char_embeds=None,
                **kwargs):
        if input_ids is None:
            raise ValueError("ChineseBertModel needs input_ids (glyphs are looked up by character id)")
        if pinyin_ids is None:
            pinyin_ids = torch.zeros(*input_ids.shape, PINYIN_LEN, dtype=torch.long, device=input_ids.device)
        pinyin_ids = pinyin_ids.view(*input_ids.shape, PINYIN_LEN)
        fused = self.embeddings.fuse(input_ids, pinyin_ids, char_embeds)
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


class CharOnlyHubLM(nn.Module):
    """A plain BERT masked LM (bert-base-chinese) behind the ChineseBERT tab's interface: it takes (and ignores)
    pinyin ids, and reports fusion=False, so the tab treats it as a char-only model."""

    def __init__(self, mlm: BertForMaskedLM):
        super().__init__()
        self.mlm = mlm
        self.bert = mlm.bert
        self.config = mlm.config
        self.config.fusion = False

    def forward(self, input_ids=None, pinyin_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        return self.mlm(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                        labels=labels, **kwargs)


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


# ---- task heads the app's pipelines (qa.py, tagging.py) call like any BERT ----

def pinyin_from_ids(input_ids: torch.Tensor, vocab: list[str]) -> torch.Tensor:
    """[b, s, 8] pinyin ids read back from the characters the ids stand for (the mini vocabulary has one
    character per entry). Each row is read as one text, special tokens as spaces, so heteronyms get the
    reading of their word as in pre-training."""
    rows = []
    for row in input_ids.tolist():
        chars = [vocab[i] if len(vocab[i]) == 1 else " " for i in row]
        rows.append(_row_pinyin("".join(chars)))
    return torch.tensor(rows, dtype=torch.long, device=input_ids.device)


@functools.lru_cache(maxsize=4096)
def _row_pinyin(text: str) -> list[list[int]]:
    from models.chinese.inputs import pinyin_ids_for_tokens

    return pinyin_ids_for_tokens(text, [(i, i + 1) if c != " " else (0, 0) for i, c in enumerate(text)])


class _IdsOnlyTaskModel(nn.Module):
    """A mini ChineseBERT with a task head, called with token ids only (pinyin is derived from them).
    `reads_ids_with_embeds`: given char embeddings (attribution), it still needs the ids for glyph and pinyin."""
    reads_ids_with_embeds = True

    def __init__(self, lm: ChineseBertForMaskedLM, vocab: list[str], config: BertConfig | None = None):
        super().__init__()
        self.bert = lm.bert
        self.config = config or lm.config
        self.vocab = vocab

    def get_input_embeddings(self) -> nn.Embedding:
        return self.bert.embeddings.word_embeddings

    @property
    def base_model(self) -> ChineseBertModel:  # what "Look inside" reads the layers from, as for any BERT
        return self.bert

    def encode(self, input_ids, attention_mask, token_type_ids, pinyin_ids, inputs_embeds, **kwargs):
        if pinyin_ids is None and getattr(self.config, "fusion", True):
            pinyin_ids = pinyin_from_ids(input_ids, self.vocab)
        return self.bert(input_ids, pinyin_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         char_embeds=inputs_embeds, **kwargs)


class ChineseBertForQuestionAnswering(_IdsOnlyTaskModel):
    """Span extraction (CMRC 2018): start and end logits per token, as BertForQuestionAnswering."""

    def __init__(self, lm: ChineseBertForMaskedLM, vocab: list[str]):
        super().__init__(lm, vocab)
        self.qa_outputs = nn.Linear(lm.config.hidden_size, 2)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, pinyin_ids=None, inputs_embeds=None,
                start_positions=None, end_positions=None, **kwargs):
        from transformers.modeling_outputs import QuestionAnsweringModelOutput

        out = self.encode(input_ids, attention_mask, token_type_ids, pinyin_ids, inputs_embeds, **kwargs)
        start, end = self.qa_outputs(out.last_hidden_state).float().unbind(-1)
        loss = None
        if start_positions is not None:
            loss = (nn.functional.cross_entropy(start, start_positions) + nn.functional.cross_entropy(end, end_positions)) / 2
        return QuestionAnsweringModelOutput(loss=loss, start_logits=start, end_logits=end,
                                            hidden_states=out.hidden_states, attentions=out.attentions)


class ChineseBertForTokenClassification(_IdsOnlyTaskModel):
    """Per-character labels (Weibo NER), as BertForTokenClassification; labels in config.id2label."""

    def __init__(self, lm: ChineseBertForMaskedLM, vocab: list[str], labels: list[str]):
        config = copy.deepcopy(lm.config)
        config.id2label = dict(enumerate(labels))
        config.label2id = {l: i for i, l in enumerate(labels)}
        super().__init__(lm, vocab, config)
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(lm.config.hidden_size, len(labels))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, pinyin_ids=None, inputs_embeds=None,
                labels=None, **kwargs):
        from transformers.modeling_outputs import TokenClassifierOutput

        out = self.encode(input_ids, attention_mask, token_type_ids, pinyin_ids, inputs_embeds, **kwargs)
        logits = self.classifier(self.dropout(out.last_hidden_state)).float()
        loss = None if labels is None else nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))
        return TokenClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions)
