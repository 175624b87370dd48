"""The embedded mini ChineseBERT: tokenizer, inputs, loading, and what the tab shows.

Two shipped models share a tokenizer (one character per token): `zh-fused` (char + glyph +
pinyin fusion, as the paper) and `zh-char` (the ablation: char embeddings only). The glyph table
is not shipped: it is re-rendered from the fonts at load time (models/chinese/glyphs.py).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from models import batching, embedded, registry, thread_safe
from models.chinese import inputs as chinese_inputs, model as chinesebert, glyphs
from models.errors import InputError, WeightsError
from models.loading import cached_load

ZH_DIR = embedded.WEIGHTS_DIR / "zh"  # where the registry's "zh/..." files live
HUB_ID = registry.get("chinese-mlm", "ShannonAI/ChineseBERT-base").location
MAX_CHARS = 10_000
MAX_TOKENS = 256  # per forward pass, [CLS] and [SEP] included (the mini models' positions)


def make_tokenizer(vocab_file: str | Path):
    from transformers import BertTokenizerFast

    # transformers 5: `vocab` takes a dict (a `vocab_file=` keyword is silently ignored -> 5 tokens)
    words = Path(vocab_file).read_text(encoding="utf-8").split("\n")
    vocab = {w: i for i, w in enumerate(w for w in words if w)}
    return thread_safe.guard(BertTokenizerFast(vocab=vocab, do_lower_case=False, tokenize_chinese_chars=True,
                                               strip_accents=False, model_max_length=512))


def vocab_list(tokenizer) -> list[str]:
    """Every vocabulary entry in id order (the mini vocabulary: one character per entry)."""
    return tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))


@functools.lru_cache(maxsize=2)
def _shared_glyph_table(vocab: tuple[str, ...]) -> tuple[torch.Tensor, dict[str, list[str]]]:
    table, missing = glyphs.glyph_table(list(vocab))
    return torch.from_numpy(table), missing


def fill_glyph_table(model, tokenizer) -> dict[str, list[str]]:
    """Put every vocabulary character's rendered glyph into the (frozen) glyph embedding; returns font gaps.
    Every fused model of one vocabulary points at ONE rendered table (38 MB; the app holds four fused
    models: the masked LM, CMRC, Weibo and sentiment), never written: the glyph embedding is frozen."""
    if not getattr(model.config, "fusion", True):
        return {}
    table, missing = _shared_glyph_table(tuple(vocab_list(tokenizer)))
    emb = model.bert.embeddings.glyph_embeddings.embedding
    if emb.weight.shape != table.shape:
        raise WeightsError(f"glyph table {tuple(table.shape)} does not fit the model's {tuple(emb.weight.shape)}")
    emb.weight = torch.nn.Parameter(table, requires_grad=False)
    return missing


@dataclass
class Encoded:
    input_ids: torch.Tensor  # [1, s]
    pinyin_ids: torch.Tensor  # [1, s, 8]
    tokens: list[str]
    offsets: list[tuple[int, int]]
    notices: list[str] = field(default_factory=list)


def encode(tokenizer, text: str, max_len: int = MAX_TOKENS, mask_positions: set[int] = frozenset()) -> Encoded:
    if not text or not text.strip():
        raise InputError("The text is empty.")
    if len(text) > MAX_CHARS:
        raise InputError(f"The text has {len(text):,} characters; the limit is {MAX_CHARS:,}.")
    enc = tokenizer(text, return_offsets_mapping=True, truncation=True, max_length=max_len)
    notices = []
    if len(enc["input_ids"]) >= max_len:
        notices.append(f"Only the first {max_len - 2} characters were read (the model window).")
    offsets = [tuple(o) for o in enc["offset_mapping"]]
    masked = {i for i, t in enumerate(enc["input_ids"]) if t == tokenizer.mask_token_id} | set(mask_positions)
    pinyin = chinese_inputs.pinyin_ids_for_tokens(text, offsets, masked)
    return Encoded(torch.tensor([enc["input_ids"]]), torch.tensor([pinyin]),
                   tokenizer.convert_ids_to_tokens(enc["input_ids"]), offsets, notices)


@dataclass
class ChineseLM:
    name: str
    model: chinesebert.ChineseBertForMaskedLM
    tokenizer: object
    meta: dict
    font_gaps: dict


def _official_file(*names: str) -> str:
    """The first of `names` the official repo has (local HF cache first, then the Hub when reachable)."""
    from huggingface_hub import hf_hub_download

    from models.errors import ModelUnavailable
    from models.loading import from_hub

    for name in names:  # a file in the local cache wins, whatever its place in `names`
        try:
            return hf_hub_download(HUB_ID, filename=name, local_files_only=True)
        except Exception:
            pass
    last = None
    for name in names:
        try:
            return from_hub(hf_hub_download, HUB_ID, filename=name)
        except ModelUnavailable as exc:
            if "cannot be reached" in str(exc):
                raise
            last = exc
    raise ModelUnavailable(f"{HUB_ID} has none of {', '.join(names)}. The embedded zh-fused / zh-char models work.") from last


def _load_official() -> ChineseLM:
    """ShannonAI/ChineseBERT-base (Hub or local HF cache): its config.json, vocab.txt and weights, which that
    repo ships only as a pickled pytorch_model.bin. A .bin goes through torch's weights-only unpickler
    (tensors and plain containers; a pickle that would run code is refused, never executed);
    model.safetensors is preferred where a repo has it. No remote code runs."""
    from safetensors.torch import load_file
    from transformers import BertConfig

    config = BertConfig.from_json_file(_official_file("config.json"))
    vocab = _official_file("vocab.txt")
    weights = _official_file("model.safetensors", "pytorch_model.bin")
    if weights.endswith(".safetensors"):
        state = load_file(weights)
    else:
        try:
            state = torch.load(weights, weights_only=True, map_location="cpu")
        except Exception as exc:  # pickle.UnpicklingError for a pickle that would call code
            raise WeightsError(f"{HUB_ID}/pytorch_model.bin holds more than tensors; refused by the weights-only "
                               f"loader (nothing in it was run): {str(exc)[:200]}") from None
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    model = chinesebert.ChineseBertForMaskedLM(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if "position_ids" not in k and "decoder.weight" not in k]:
        raise WeightsError(f"{HUB_ID} does not fit the model: missing={missing[:3]} unexpected={unexpected[:3]}")
    model.config.fusion = True
    model.tie_weights()
    model.eval()
    return ChineseLM(HUB_ID, model, make_tokenizer(vocab), {"fusion": True, "hub": HUB_ID}, {})


def read_lm(path: Path, name: str | None = None) -> ChineseLM:
    """A pre-trained mini model file (with vocab.txt beside it), glyph table rendered, in eval mode.
    The app loads the shipped ones through load(); the classifier recipe starts from any."""
    state, meta = embedded.read_adapter(path)
    tok = make_tokenizer(Path(path).parent / "vocab.txt")
    model = chinesebert.ChineseBertForMaskedLM(chinesebert.mini_config(len(tok), meta["fusion"], **meta["size"]))
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    allowed = {"bert.embeddings.glyph_embeddings.embedding.weight", "cls.predictions.decoder.weight",
               "cls.predictions.decoder.bias"}
    if unexpected or set(missing) - allowed - {k for k in missing if "position_ids" in k}:
        raise WeightsError(f"{Path(path).name} does not fit the model: missing={missing[:3]} unexpected={unexpected[:3]}")
    gaps = fill_glyph_table(model, tok)
    model.tie_weights()
    model.eval()
    return ChineseLM(name or Path(path).stem, model, tok, meta, gaps)


def save_mini(model, path: str | Path, meta: dict) -> None:
    """A mini model file (pre-trained or fine-tuned): fp16, without the glyph table (rendered at load)."""
    import json

    from safetensors.torch import save_file

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(chinesebert.shipped_state(model), str(path), metadata={k: json.dumps(v) for k, v in meta.items()})


def read_head(path: str | Path, make_head, attn_implementation: str | None = None):
    """(head, tokenizer, meta) of a fine-tuned file with vocab.txt beside it: the whole encoder and its head,
    built from the file's own metadata (sizes, fusion) by `make_head(lm, tokenizer, meta)`; eval mode."""
    state, meta = embedded.read_adapter(Path(path))
    tok = make_tokenizer(Path(path).parent / "vocab.txt")
    lm = chinesebert.ChineseBertForMaskedLM(chinesebert.mini_config(len(tok), meta["fusion"], **meta["size"]))
    if attn_implementation:
        lm.set_attn_implementation(attn_implementation)
    head = make_head(lm, tok, meta)
    missing, unexpected = head.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or [k for k in missing if "glyph_embeddings" not in k and "position_ids" not in k]:
        raise WeightsError(f"{Path(path).name} does not fit: missing={missing[:3]} unexpected={unexpected[:3]}")
    fill_glyph_table(lm, tok)
    head.eval()
    return head, tok, meta


def weight_file(ck: registry.Checkpoint) -> Path:
    return ZH_DIR / Path(ck.location).relative_to("zh")


def _load_char_bert(ck: registry.Checkpoint) -> ChineseLM:
    """A plain Chinese BERT from the Hub (bert-base-chinese): the char-only baseline of the paper."""
    from transformers import AutoTokenizer, BertForMaskedLM

    from models.loading import from_hub

    tok = thread_safe.guard(from_hub(AutoTokenizer.from_pretrained, ck.location))
    mlm = from_hub(BertForMaskedLM.from_pretrained, ck.location, use_safetensors=True, attn_implementation="eager")
    model = chinesebert.CharOnlyHubLM(mlm).eval()
    return ChineseLM(ck.name, model, tok, {"fusion": False, "hub": ck.location}, {})


def load(name: str = "zh-fused") -> ChineseLM:
    ck = registry.get("chinese-mlm", name)
    if ck.needs_hub:
        build = _load_official if ck.location == HUB_ID else (lambda: _load_char_bert(ck))
        return cached_load(("chinese-mlm", name), build, evictable=True)
    return cached_load(("chinese-mlm", name), lambda: read_lm(weight_file(ck), name))


def cosine_neighbours(matrix: np.ndarray, vocab: list[str], query: int, k: int = 8) -> list[tuple[str, float]]:
    """Nearest vocabulary characters to row `query` by cosine similarity (single CJK characters only)."""
    norms = np.linalg.norm(matrix, axis=1) + 1e-8
    sims = matrix @ matrix[query] / (norms * norms[query])
    order = np.argsort(-sims)
    out = []
    for i in order:
        if i != query and len(vocab[i]) == 1 and chinese_inputs.is_cjk(vocab[i]):
            out.append((vocab[i], round(float(sims[i]), 4)))
            if len(out) == k:
                break
    return out


# ---------- what the tab shows ----------

@dataclass
class CharInfo:
    char: str
    position: int
    pinyin: str | None
    pinyin_ids: list[int]
    glyph: np.ndarray | None  # [3, 24, 24]
    missing_fonts: list[str]
    contribution: dict[str, float]  # share of |map_fc . part| for char / glyph / pinyin


@dataclass
class Inspection:
    model: str
    text: str
    chars: list[CharInfo]
    notices: list[str]


def _part_contributions(lm: ChineseLM, enc: Encoded) -> list[dict[str, float]]:
    """Split map_fc(cat[c, p, g]) into W_c c + W_p p + W_g g and report each term's share of the norms."""
    emb = lm.model.bert.embeddings
    if not hasattr(emb, "map_fc"):
        return [{"char": 1.0, "glyph": 0.0, "pinyin": 0.0} for _ in enc.tokens]
    with torch.no_grad():
        parts = emb.parts(enc.input_ids, enc.pinyin_ids)
        h = parts["char"].shape[-1]
        w = emb.map_fc.weight
        terms = {"char": parts["char"] @ w[:, :h].T, "pinyin": parts["pinyin"] @ w[:, h:2 * h].T,
                 "glyph": parts["glyph"] @ w[:, 2 * h:].T}
        norms = {k: v[0].norm(dim=-1) for k, v in terms.items()}
        total = sum(norms.values()) + 1e-8
    return [{k: round(float(norms[k][i] / total[i]), 4) for k in ("char", "glyph", "pinyin")}
            for i in range(len(enc.tokens))]


def inspect_text(text: str, model: str = "zh-fused") -> Inspection:
    from models.text_checks import clean_text

    text, notices = clean_text(text, max_chars=MAX_CHARS)
    lm = load(model)
    enc = encode(lm.tokenizer, text)
    notices += enc.notices
    contrib = _part_contributions(lm, enc)
    readings = chinese_inputs.sentence_pinyin(text)
    fonts = glyphs.font_paths() if getattr(lm.model.config, "fusion", True) else None
    chars = []
    for i, (tok, (a, b)) in enumerate(zip(enc.tokens, enc.offsets)):
        if b - a != 1:
            continue
        ch = text[a]
        glyph, missing = glyphs.render(ch, fonts) if fonts else (None, [])
        chars.append(CharInfo(ch, i, readings[a], enc.pinyin_ids[0, i].tolist(), glyph, missing, contrib[i]))
    unk = sum(t == lm.tokenizer.unk_token for t in enc.tokens)
    if unk:
        notices.append(f"{unk} character(s) are outside the model's {len(lm.tokenizer):,}-character vocabulary "
                       f"(shown as [UNK]).")
    if not any(chinese_inputs.is_cjk(c) for c in text):
        notices.append("The text has no Chinese characters: glyph and pinyin parts are empty for every token.")
    return Inspection(model, text, chars, notices)


def _space(model: str, kind: str) -> np.ndarray:
    """The vectors below, built once per model and kind and kept in the model store (its memory budget)."""
    return cached_load(("chinese-space", model, kind), lambda: _build_space(model, kind), evictable=True)


def _build_space(model: str, kind: str) -> np.ndarray:
    """Per-vocabulary-character vectors: 'glyph' (glyph_map of the bitmaps), 'pinyin' (the pinyin CNN on
    the character's own reading), 'fused' (map_fc of all three, the character alone)."""
    lm = load(model)
    emb = lm.model.bert.embeddings
    vocab = vocab_list(lm.tokenizer)
    ids = torch.arange(len(vocab))[None]
    pins = torch.tensor([[chinese_inputs.pinyin_to_ids(chinese_inputs.sentence_pinyin(t)[0])
                          if len(t) == 1 and chinese_inputs.is_cjk(t) else [0] * 8 for t in vocab]])
    with torch.no_grad():
        if kind == "fused":
            return emb.fuse(ids, pins)[0].numpy()
        return emb.parts(ids, pins)[kind][0].numpy()


def neighbours(char: str, model: str = "zh-fused", k: int = 8) -> dict[str, list[tuple[str, float]]]:
    """Nearest characters by glyph, by pinyin and by fused embedding."""
    lm = load(model)
    if len(char) != 1 or not chinese_inputs.is_cjk(char) or char not in lm.tokenizer.vocab:
        shown = char if len(char) <= 20 else f"{char[:20]}… ({len(char):,} characters)"  # never echo a huge input
        what = "is empty" if not char else "is not a single character" if len(char) != 1 else \
            "is not a Chinese character" if not chinese_inputs.is_cjk(char) else "is not in the model's vocabulary"
        raise InputError(f"'{shown}' {what}: give one Chinese character, e.g. 猫.")
    if not getattr(lm.model.config, "fusion", True):
        raise InputError("The char-only model has no glyph or pinyin embeddings; pick zh-fused.")
    vocab = vocab_list(lm.tokenizer)
    q = lm.tokenizer.vocab[char]
    return {kind: cosine_neighbours(_space(model, kind), vocab, q, k) for kind in ("glyph", "pinyin", "fused")}


MAX_BLANKS = 10


def require_chinese(text: str, task: str) -> None:
    """These models read Chinese only: on other text they return confident nonsense, so refuse it."""
    if not chinese_inputs.has_chinese(text):
        raise InputError(f"The text has no Chinese characters; the Chinese models cannot {task} for it. "
                         f"Write Chinese text, e.g. 我喜欢[MASK]。 or 这部电影太好看了。")


def fill_mask(text: str, model: "str | ChineseLM" = "zh-fused", top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k characters at each [MASK] (also accepts ＿ and _ as the blank). `model`: a name, or a ChineseLM
    in memory (a recipe scoring what it trains)."""
    from models.text_checks import clean_text

    text, _ = clean_text(text, max_chars=MAX_CHARS)
    text = text.replace("＿", "[MASK]").replace("_", "[MASK]")
    require_chinese(text.replace("[MASK]", ""), "fill in the blank")
    lm = load(model) if isinstance(model, str) else model
    enc = encode(lm.tokenizer, text)
    pos = (enc.input_ids[0] == lm.tokenizer.mask_token_id).nonzero().flatten().tolist()
    if not pos:
        raise InputError("No blank found: write [MASK] (or ＿) where a character is missing, e.g. 我喜欢[MASK]。")
    if len(pos) > MAX_BLANKS:
        raise InputError(f"The text has {len(pos)} blanks; at most {MAX_BLANKS} (as in the English fill-mask tab).")
    if isinstance(model, str):  # concurrent visitors' texts share one padded pass (models/batching.py)
        logits = batching.batcher("chinese-mlm", model).run(enc, lambda many: _mlm_logits(lm, many))
    else:
        logits = _mlm_logits(lm, [enc])[0]
    probs = logits[pos].float().softmax(-1)
    top = probs.topk(top_k, dim=-1)
    return [[(lm.tokenizer.convert_ids_to_tokens(int(i)), round(float(s), 4)) for s, i in zip(v, ix)]
            for v, ix in zip(top.values, top.indices)]


@torch.no_grad()
def _mlm_logits(lm: ChineseLM, encs: list[Encoded]) -> list[torch.Tensor]:
    """Each encoded text's [its length, vocab] logits, from one pass over them padded to the longest."""
    width = max(e.input_ids.shape[1] for e in encs)
    ids = torch.full((len(encs), width), lm.tokenizer.pad_token_id, dtype=torch.long)
    pins = torch.zeros(len(encs), width, chinese_inputs.PINYIN_LEN, dtype=torch.long)
    mask = torch.zeros(len(encs), width, dtype=torch.long)
    for i, e in enumerate(encs):
        n = e.input_ids.shape[1]
        ids[i, :n], pins[i, :n], mask[i, :n] = e.input_ids[0], e.pinyin_ids[0], 1
    logits = lm.model(ids, pins, attention_mask=mask).logits
    return [logits[i, :e.input_ids.shape[1]] for i, e in enumerate(encs)]


# ---------- sentiment classifier and evaluation ----------



def batch_encode(tokenizer, texts: list[str], max_len: int = MAX_TOKENS) -> dict[str, torch.Tensor]:
    encs = [encode(tokenizer, t, max_len) for t in texts]
    width = max(e.input_ids.shape[1] for e in encs)
    ids = torch.zeros(len(encs), width, dtype=torch.long)
    pin = torch.zeros(len(encs), width, chinese_inputs.PINYIN_LEN, dtype=torch.long)
    for i, e in enumerate(encs):
        ids[i, :e.input_ids.shape[1]] = e.input_ids[0]
        pin[i, :e.input_ids.shape[1]] = e.pinyin_ids[0]
    return {"input_ids": ids, "pinyin_ids": pin, "attention_mask": (ids != tokenizer.pad_token_id).long()}


def load_classifier(name: str = "zh-fused") -> tuple[chinesebert.SentimentHead, object]:
    """The ChnSentiCorp classifier: its file holds the whole fine-tuned encoder, so it is built from its own
    metadata (sizes, fusion) and never depends on the current pre-trained file of the same name."""
    def build():
        head, tok, _ = read_head(weight_file(registry.get("chinese-sentiment", name)),
                                 lambda lm, tok, meta: chinesebert.SentimentHead(lm))
        return head, tok

    return cached_load(("chinese-sentiment", name), build)


SENTIMENT_LABELS = ("negative", "positive")  # ChnSentiCorp: 0 = negative, 1 = positive


@torch.no_grad()
def classify_sentiment(text: str, model: str = "zh-fused") -> dict[str, float]:
    """Probability of each sentiment for one review, from the ChnSentiCorp head on the chosen model."""
    from models.text_checks import clean_text

    heads = registry.names("chinese-sentiment")
    if model not in heads:
        raise InputError(f"The sentiment head was trained for {' and '.join(heads)} only; pick one of them.")
    text, _ = clean_text(text, max_chars=MAX_CHARS)
    require_chinese(text, "classify its sentiment")
    head, tok = load_classifier(model)

    def many(texts: list[str]) -> list:  # concurrent reviews share one padded pass (models/batching.py)
        with torch.no_grad():
            return list(head(**batch_encode(tok, texts))[1].softmax(-1))

    probs = batching.batcher("chinese-sentiment", model).run(text, many)
    return {lab: round(float(p), 4) for lab, p in zip(SENTIMENT_LABELS, probs)}
