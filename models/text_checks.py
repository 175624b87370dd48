"""Input hygiene shared by every text task: limits, invisible characters, script detection."""
from __future__ import annotations

import re
import unicodedata

from models.chinese.inputs import has_chinese
from models.errors import InputError

MAX_CHARS = 100_000  # bigger inputs are refused with a clear message, never processed for minutes

# zero-width and bidi control characters: invisible, and they split words in odd ways
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_text(text, what: str = "text", max_chars: int = MAX_CHARS) -> tuple[str, list[str]]:
    """Validate and normalise user text. Returns (clean text, notices for the user)."""
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise InputError(f"The {what} must be a string, not {type(text).__name__}.")
    if len(text) > max_chars:
        raise InputError(f"The {what} has {len(text):,} characters; the limit is {max_chars:,}. "
                         f"Paste a shorter passage.")
    notices = []
    cleaned, n = _INVISIBLE.subn("", text)
    if n:
        notices.append(f"Removed {n} invisible character(s) (zero-width or text-direction marks).")
    cleaned = unicodedata.normalize("NFC", cleaned).strip()
    if not cleaned:
        raise InputError(f"The {what} is empty.")
    return cleaned, notices


def latin_share(text: str) -> float:
    """Share of letters that are Latin script (1.0 when the text has no letters)."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for c in letters if unicodedata.name(c, "").startswith("LATIN"))
    return latin / len(letters)


def language_notice(text: str, languages: tuple[str, ...]) -> list[str]:
    if "en" in languages and "zh" not in languages and latin_share(text) < 0.5:
        return ["This model was trained on English text only; for other scripts its output is not meaningful."]
    return []


def script_check(text: str, languages: tuple[str, ...], what: str = "text") -> list[str]:
    """Run BEFORE the model: refuse text a Chinese-only model cannot read (at once: a long English text
    read character by character took a minute of forward passes before its note), note Chinese-only text
    for an English model (it answers, quickly, with the note), and note text with no words, on which any
    answer is meaningless. Returns notices."""
    if tuple(languages) == ("zh",) and not has_chinese(text):
        raise InputError(f"This model reads Chinese only, and the {what} has no Chinese characters, so its answer "
                         f"would mean nothing. Write Chinese text, or pick an English model.")
    if "zh" not in languages and has_chinese(text) and not any(
            unicodedata.name(c, "").startswith("LATIN") for c in text if c.isalpha()):
        return [f"This model was trained on English text only, and the {what} is Chinese: its answer is not "
                f"meaningful. Pick a Chinese model (zh-…) for Chinese text."]
    if not any(c.isalnum() for c in text):
        return [f"The {what} has no letters or digits (only emoji or symbols, which this model reads as unknown "
                f"tokens): the result below is not meaningful."]
    return []
