"""Every shipped example of the main tabs, answered through the tabs' own event functions; prints one JSON
object. tests/test_space_path.py runs it in the dev venv (embedded packages installed) and in a venv built
from requirements.txt alone with the Hub models in an offline HF cache (as a Space runs), and compares.

    python tests/space_check.py > answers.json
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BERT_DEMO_PRECISION", "fp32")  # the same arithmetic in both runs

import pandas as pd  # noqa: E402

from models import registry  # noqa: E402
from tabs import chinesebert, fill_mask, prompt_cls, qa, tagging  # noqa: E402

NO_FEW_SHOT = pd.DataFrame([{"text": "", "label": ""}])


def r4(x: float) -> float:
    return round(float(x), 4)


def answers() -> dict:
    out: dict[str, object] = {}
    for text, model, k in fill_mask.EXAMPLES:
        raw = fill_mask.predict(text, model, k)[-1]
        out[f"fill-mask|{model}|{text}"] = [[(c["token"], r4(c["score"])) for c in p["candidates"]]
                                              for p in raw["predictions"]]
    for question, context, model in qa.EXAMPLES:
        if registry.get("qa", model).needs_hub:
            continue
        raw = qa.answer(question, context, model, 5, 30, 0.0)[-1]
        out[f"qa|{model}|{question}"] = [(a["text"], r4(a["probability"])) for a in raw["nbest"][:3]]
    for text, task in tagging.EXAMPLES:
        raw = tagging.tag(text, task, None, "first")[-1]
        out[f"tagging|{task}|{text}"] = [(w["word"], w["label"]) for w in raw["words"]]
    for text, preset, backend in prompt_cls.EXAMPLES:
        template, verbalizer, model = prompt_cls.load_preset(preset)
        for b in sorted({backend, "cloze", "embedding", "ensemble", "causal-lm"}):
            raw = prompt_cls.classify(text, template, verbalizer, b, model, True, NO_FEW_SHOT, False, None)[-1]
            out[f"prompt|{preset}|{b}|{text}"] = {k: r4(v) for k, v in raw["scores"].items()}
    for (text,) in chinesebert.EXAMPLES:
        out[f"zh-inspect|{text}"] = [(c["char"], c["pinyin"]) for c in chinesebert.inspect(text, "zh-fused")[-1]["chars"]]
    out["zh-fill"] = chinesebert.fill(chinesebert.FILL_DEFAULT, "zh-fused").to_dict("records")
    out["zh-sentiment"] = chinesebert.sentiment(chinesebert.EXAMPLES[2][0], "zh-fused")
    out["zh-neighbours"] = chinesebert.neighbours("猫", "zh-fused").to_dict("list")
    return out


if __name__ == "__main__":
    print(json.dumps(answers(), ensure_ascii=False, default=str))
