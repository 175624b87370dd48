"""The ChineseBERT stack (Sun et al., 2021): what the Chinese tabs and the zh-* checkpoints run.

inputs.py   characters -> token ids, pinyin ids (8 per character, whole-sentence readings), script checks
glyphs.py   each character rendered in three fonts -> the glyph bitmaps the glyph embedding reads
model.py    the architecture (official parameter names): fusion embeddings (char + glyph + pinyin), heads
mlm.py      loading the mini models and the Hub ones; fill-mask, per-character inspection, sentiment
tasks.py    the CMRC span and Weibo NER task files, run by models/qa.py and models/tagging.py
"""
