"""Tiny, randomly initialised stand-ins for every Hub checkpoint the app lists, written in the Hugging Face
cache layout (models--org--name/snapshots/<commit>/ + refs/main), so the app's own
`from_pretrained(repo_id)` path runs on them with HF_HUB_OFFLINE=1 (issue 16).

Each stand-in has the real checkpoint's config class, model class, tokenizer type and label map: WordPiece
uncased / cased (BERT, DistilBERT), byte-level BPE with `<mask>` and `Ġ` offsets (RoBERTa), a character
vocabulary (Chinese BERT), and BART with an MNLI label map. The tokenizers are trained here on our own
sample texts with `tokenizers`; the weights are random, so the checks are about plumbing, not accuracy.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMIT = hashlib.sha1(b"bert-demo tiny hub fixtures").hexdigest()

CONLL_LABELS = ["O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]  # dslim's order
UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"]
ONTONOTES_ZH = ["O", "B-PERSON", "I-PERSON", "E-PERSON", "S-PERSON", "B-GPE", "I-GPE", "E-GPE", "S-GPE"]
# facebook/bart-large-mnli has entailment at index 2; the stand-in puts it at 0 (as some NLI checkpoints do),
# so an app that assumed index 2 would fail the check
MNLI_LABELS = {0: "entailment", 1: "neutral", 2: "contradiction"}


def _texts() -> list[str]:
    lines = (ROOT / "samples" / "sst2-300.tsv").read_text(encoding="utf-8").splitlines()
    extra = ["Paris is the capital of France.", "The Amazon rainforest covers much of Brazil.",
             "Angela Merkel met Emmanuel Macron in Paris.", "Alexander Graham Bell was awarded the patent."]
    return [l.split("\t")[0] for l in lines] + extra * 20


def _zh_chars() -> list[str]:
    text = "苏轼是北宋著名的文学家与政治家眉州眉山人我喜欢猫他去银行取钱然后在河边行走今天天气很好北京上海中国人"
    return sorted(set(text))


def wordpiece(lowercase: bool):
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    wp = BertWordPieceTokenizer(lowercase=lowercase)
    wp.train_from_iterator(_texts(), vocab_size=600)
    return BertTokenizerFast(vocab=wp.get_vocab(), do_lower_case=lowercase)


def chinese_chars():
    from transformers import BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "，", "。", "？"] + _zh_chars()
    return BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}, do_lower_case=False,
                             tokenize_chinese_chars=True)


def byte_level_bpe(kind: str = "roberta"):
    from tokenizers import AddedToken, ByteLevelBPETokenizer
    from transformers import BartTokenizerFast, RobertaTokenizerFast

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(_texts(), vocab_size=700, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    cls = RobertaTokenizerFast if kind == "roberta" else BartTokenizerFast
    return cls(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
               pad_token="<pad>", cls_token="<s>", sep_token="</s>",
               mask_token=AddedToken("<mask>", lstrip=True, rstrip=False))


def sentencepiece_unigram():
    """XLM-RoBERTa's kind: a SentencePiece unigram model (▁ word starts), <mask>, and Chinese pieces."""
    from tokenizers import AddedToken, SentencePieceUnigramTokenizer
    from transformers import XLMRobertaTokenizerFast

    sp = SentencePieceUnigramTokenizer()
    sp.train_from_iterator(_texts() + ["".join(_zh_chars())] * 5, vocab_size=700, unk_token="<unk>",
                           special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    return XLMRobertaTokenizerFast(tokenizer_object=sp._tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>", cls_token="<s>", sep_token="</s>",
                                   mask_token=AddedToken("<mask>", lstrip=True, rstrip=False))


def _bert_config(cls, tok, **extra):
    return cls(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, max_position_embeddings=512, **extra)


def _labels(names: list[str]) -> dict:
    return {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}


def stand_in(c, toks: dict) -> tuple | None:
    """A tiny (model, tokenizer) of a Hub registry row, built from what the row declares: its task, family,
    label set and languages (None: a row built elsewhere, the official ChineseBERT). `toks`: the tokenizers."""
    from transformers import (BartConfig, BartForSequenceClassification, BertConfig, BertForMaskedLM,
                              BertForQuestionAnswering, BertForTokenClassification, DistilBertConfig,
                              DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForTokenClassification,
                              RobertaConfig, RobertaForMaskedLM, RobertaForQuestionAnswering,
                              RobertaForTokenClassification, XLMRobertaConfig, XLMRobertaForMaskedLM,
                              XLMRobertaForQuestionAnswering, XLMRobertaForTokenClassification)

    from models.registry import Family, Labels

    zh_only, multilingual = "en" not in c.languages, len(c.languages) > 1
    if c.family is Family.CHINESEBERT:
        return None
    if c.family is Family.BART:
        tok = toks["bart"]
        config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1,
                            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                            decoder_ffn_dim=64, max_position_embeddings=512, pad_token_id=tok.pad_token_id,
                            bos_token_id=0, eos_token_id=2, num_labels=3, **_labels([MNLI_LABELS[i] for i in range(3)]))
        return BartForSequenceClassification(config), tok
    if c.family is Family.ROBERTA:
        tok = toks["spm"] if multilingual else toks["bpe"]
        cfg_cls = XLMRobertaConfig if multilingual else RobertaConfig
        make = lambda **extra: cfg_cls(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=514,
                                       pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                                       eos_token_id=tok.eos_token_id, type_vocab_size=1, **extra)
        classes = ((XLMRobertaForMaskedLM, XLMRobertaForQuestionAnswering, XLMRobertaForTokenClassification)
                   if multilingual else (RobertaForMaskedLM, RobertaForQuestionAnswering, RobertaForTokenClassification))
    else:
        # Hub repos name their casing ("-uncased"); our stand-ins follow it so both WordPiece kinds are run
        tok = toks["zh"] if zh_only else toks["uncased" if "uncased" in c.location else "cased"]
        if c.family is Family.DISTILBERT:
            make = lambda **extra: DistilBertConfig(vocab_size=len(tok), dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                                                    max_position_embeddings=512, **extra)
            classes = (DistilBertForMaskedLM, DistilBertForQuestionAnswering, DistilBertForTokenClassification)
        else:
            make = lambda **extra: _bert_config(BertConfig, tok, **extra)
            classes = (BertForMaskedLM, BertForQuestionAnswering, BertForTokenClassification)
    masked_lm, span, tagger = classes
    if c.task in ("fill-mask", "chinese-mlm"):
        return masked_lm(make()), tok
    if c.task == "qa":
        return span(make()), tok
    if c.task == "tagging":
        names = UPOS if c.labels is Labels.UPOS else ONTONOTES_ZH if zh_only else CONLL_LABELS
        return tagger(make(**_labels(names))), tok
    raise ValueError(f"no stand-in for a {c.family.value} {c.task} model ({c.name}); add one here")


def checkpoints(rows: list | None = None) -> dict[str, tuple]:
    """repo id -> (model, tokenizer), for every Hub row of the registry (or of `rows`) the fixtures cover."""
    import torch

    from models import registry

    torch.manual_seed(0)
    toks = {"uncased": wordpiece(True), "cased": wordpiece(False), "zh": chinese_chars(), "bpe": byte_level_bpe(),
            "spm": sentencepiece_unigram(), "bart": byte_level_bpe("bart")}
    made = {}
    for c in rows if rows is not None else registry.CHECKPOINTS:
        if c.needs_hub and (pair := stand_in(c, toks)) is not None:
            made[c.location] = pair
    return made


def _snapshot(cache: Path, repo: str) -> Path:
    base = cache / ("models--" + repo.replace("/", "--"))
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(COMMIT)
    snap = base / "snapshots" / COMMIT
    snap.mkdir(parents=True, exist_ok=True)
    return snap


def official_chinesebert(cache: Path, payload: object | None = None) -> Path:
    """ShannonAI/ChineseBERT-base's layout (config.json, vocab.txt, pytorch_model.bin, config/ with its pinyin
    maps), tiny. `payload`: pickled into pytorch_model.bin instead of the state dict (a hostile file)."""
    import json

    import torch

    from models.chinese import model as chinesebert

    tok = chinese_chars()
    snap = _snapshot(cache, "ShannonAI/ChineseBERT-base")
    config = chinesebert.mini_config(len(tok), True, hidden=32, layers=2, heads=2, max_len=512)
    (snap / "config.json").write_text(config.to_json_string())
    (snap / "vocab.txt").write_text("\n".join(tok.convert_ids_to_tokens(list(range(len(tok))))), encoding="utf-8")
    (snap / "config").mkdir(exist_ok=True)
    for name in ("pinyin_map.json", "id2pinyin.json", "pinyin2tensor.json"):
        (snap / "config" / name).write_text(json.dumps({}))
    torch.manual_seed(0)
    model = chinesebert.ChineseBertForMaskedLM(config)
    torch.save(payload if payload is not None else model.state_dict(), snap / "pytorch_model.bin")
    return snap


def build_cache(cache: Path) -> list[str]:
    """Write every stand-in into `cache` (an HF_HUB_CACHE folder); returns the repo ids."""
    made = checkpoints()
    for repo, (model, tok) in made.items():
        snap = _snapshot(cache, repo)
        model.save_pretrained(snap)  # safetensors
        tok.save_pretrained(snap)
    official_chinesebert(cache)
    return list(made) + ["ShannonAI/ChineseBERT-base"]
