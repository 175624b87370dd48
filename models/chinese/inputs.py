"""ChineseBERT inputs built as the original: character ids and 8 pinyin ids per token.

Pinyin: pypinyin TONE3 with heteronyms over the WHOLE sentence (so phrases pick the right
reading: 银行 yin2 hang2, 行走 xing2 zou3), the neutral tone written 5; letters a-z -> 6..31,
tone digits -> their value; right-padded with 0. [CLS]/[SEP], non-Chinese characters,
multi-character tokens and masked positions get eight zeros.
"""
from __future__ import annotations


PINYIN_LEN = 8
NOT_CHINESE = "not chinese"
CHAR2IDX = {**{str(d): d for d in range(6)}, **{chr(ord("a") + i): 6 + i for i in range(26)}}


CJK_RANGES = (
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0x3400, 0x4DBF),  # Extension A
    (0xF900, 0xFAFF),  # Compatibility Ideographs
    (0x20000, 0x2EBEF),  # Extensions B-F and I (rare and historic characters, e.g. 𠀀)
    (0x2F800, 0x2FA1F),  # Compatibility Ideographs Supplement
    (0x30000, 0x323AF),  # Extensions G-H
)


def is_cjk(ch: str) -> bool:
    """A Chinese (Han) character, in any Unicode block, including the supplementary planes."""
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


def has_chinese(text: str) -> bool:
    return any(is_cjk(c) for c in text)


def sentence_pinyin(text: str) -> list[str | None]:
    """One TONE3 reading per character of `text` (None where not Chinese)."""
    from pypinyin import Style, pinyin  # here, not at import: English-only code (a GPU lease) never needs it

    readings = pinyin(text, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True,
                      errors=lambda chars: [[NOT_CHINESE] for _ in chars])
    out = [r[0] if r and r[0] != NOT_CHINESE else None for r in readings]
    if len(out) != len(text):  # pypinyin keeps one entry per character; guard against surprises
        raise ValueError(f"pinyin alignment failed: {len(out)} readings for {len(text)} characters")
    return out


def pinyin_to_ids(reading: str | None) -> list[int]:
    if not reading or len(reading) > PINYIN_LEN or any(c not in CHAR2IDX for c in reading):
        return [0] * PINYIN_LEN
    ids = [CHAR2IDX[c] for c in reading]
    return ids + [0] * (PINYIN_LEN - len(ids))


def pinyin_ids_for_tokens(text: str, offsets: list[tuple[int, int]], masked: set[int] = frozenset()) -> list[list[int]]:
    """8 pinyin ids per token; `offsets` are the tokens' character spans in `text` ((0, 0) for specials)."""
    readings = sentence_pinyin(text) if text else []
    out = []
    for i, (a, b) in enumerate(offsets):
        if i in masked or b - a != 1:
            out.append([0] * PINYIN_LEN)
        else:
            out.append(pinyin_to_ids(readings[a]))
    return out
