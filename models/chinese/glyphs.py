"""Glyph bitmaps for ChineseBERT: each character drawn 24x24 in three real fonts, cached.

Fonts: Noto Sans SC and Noto Serif SC (PyPI `pylopdf-fonts-zh-cn`, OFL-1.1) and AR PL UKai
(Debian `fonts-arphic-ukai`, a Kai/brush style). A character a font lacks is detected by
comparing its drawing with the font's drawing of an unassigned code point (the "tofu" box),
never silently left blank.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from models.errors import ModelUnavailable

PX = 24
KAI_PATHS = ("/usr/share/fonts/truetype/arphic/ukai.ttc", "/usr/share/fonts/truetype/arphic-ukai/ukai.ttc")
_UNASSIGNED = "\U0010fffd"


@dataclass(frozen=True)
class GlyphFont:
    name: str
    path: str


def noto_fonts() -> list[GlyphFont]:
    """Noto Sans SC and Noto Serif SC from the pylopdf-fonts-zh-cn package ([] without it); the figures'
    CJK fallback (tabs/common.py) uses the first."""
    try:
        import pylopdf_fonts_zh_cn
    except ImportError:
        return []
    base = os.path.dirname(pylopdf_fonts_zh_cn.__file__)
    return [GlyphFont("Noto Sans SC", os.path.join(base, "NotoSansSC-Regular.otf")),
            GlyphFont("Noto Serif SC", os.path.join(base, "NotoSerifSC-Regular.otf"))]


def font_paths() -> list[GlyphFont]:
    """The three fonts, or a clear error naming the one that is missing and how to install it."""
    fonts = noto_fonts()
    if not fonts:
        raise ModelUnavailable("Glyph fonts missing: pip install pylopdf-fonts-zh-cn (Noto Sans SC / Serif SC).")
    kai = next((p for p in KAI_PATHS if os.path.isfile(p)), None)
    if kai is None:
        raise ModelUnavailable("Kai font missing: apt-get install fonts-arphic-ukai (see packages.txt).")
    return fonts + [GlyphFont("AR PL UKai", kai)]


@functools.lru_cache(maxsize=8)
def _font(path: str):
    from PIL import ImageFont

    return ImageFont.truetype(path, PX - 2)


@functools.lru_cache(maxsize=65536)
def _draw(path: str, ch: str) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("L", (PX, PX), 0)
    ImageDraw.Draw(img).text((PX / 2, PX / 2), ch, fill=255, font=_font(path), anchor="mm")
    return img.tobytes()


def has_glyph(path: str, ch: str) -> bool:
    bitmap = _draw(path, ch)
    return any(bitmap) and bitmap != _draw(path, _UNASSIGNED)


def render(ch: str, fonts: list[GlyphFont] | None = None) -> tuple[np.ndarray, list[str]]:
    """[3, 24, 24] float32 in [0, 1] for one character, and the fonts that lack it (drawn as zeros)."""
    fonts = fonts or font_paths()
    planes, missing = [], []
    for f in fonts:
        if len(ch) == 1 and has_glyph(f.path, ch):
            planes.append(np.frombuffer(_draw(f.path, ch), dtype=np.uint8).reshape(PX, PX) / 255.0)
        else:
            planes.append(np.zeros((PX, PX)))
            missing.append(f.name)
    return np.stack(planes).astype(np.float32), missing


# a machine without the fonts (a GPU box) can use a table rendered elsewhere by save_glyph_table
TABLE_FILE_ENV = "BERT_DEMO_GLYPH_TABLE"


def save_glyph_table(vocab: list[str], path: str) -> None:
    """Render the vocabulary's table once and store it as uint8 pixels (exact: pixels are k/255)."""
    table, missing = glyph_table(vocab)
    np.savez_compressed(path, pixels=np.round(table * 255).astype(np.uint8), vocab=np.array(vocab),
                        missing=np.array(sorted(missing)))


def glyph_table(vocab: list[str]) -> tuple[np.ndarray, dict[str, list[str]]]:
    """[V, 1728] glyph rows for a vocabulary (non-characters get zeros) and what each font lacks."""
    if os.environ.get(TABLE_FILE_ENV):
        stored = np.load(os.environ[TABLE_FILE_ENV])
        if list(stored["vocab"]) != list(vocab):
            raise ModelUnavailable(f"{os.environ[TABLE_FILE_ENV]} was rendered for another vocabulary.")
        return stored["pixels"].astype(np.float32) / 255.0, {ch: ["(stored table)"] for ch in stored["missing"]}
    fonts = font_paths()
    rows, missing = np.zeros((len(vocab), 3 * PX * PX), dtype=np.float32), {}
    for i, tok in enumerate(vocab):
        if len(tok) == 1:
            arr, lacks = render(tok, fonts)
            rows[i] = arr.reshape(-1)
            if lacks and len(lacks) < len(fonts):
                missing[tok] = lacks
    return rows, missing
