"""Every example a tab ships answers correctly (issue 26): run through the tab's own event function, the
same call the example's click makes, and compared with the hand-written answers of examples_expected.py."""
import pandas as pd
import pytest

from models import registry
from tabs import chinesebert, fill_mask, prompt_cls, qa, tagging
from tests import examples_expected as expected

OFFLINE_QA = [e for e in qa.EXAMPLES if not registry.get("qa", e[2]).needs_hub]
NO_FEW_SHOT = pd.DataFrame([{"text": "", "label": ""}])


def test_every_tab_has_an_expected_answer_per_example():
    assert len(expected.FILL_MASK) == len(fill_mask.EXAMPLES)
    assert len(expected.QA) == len(OFFLINE_QA)
    assert len(expected.TAGGING) == len(tagging.EXAMPLES)
    assert len(expected.PROMPT) == len(prompt_cls.EXAMPLES)
    assert len(expected.CHINESEBERT) == len(chinesebert.EXAMPLES)


@pytest.mark.parametrize("example,want", list(zip(fill_mask.EXAMPLES, expected.FILL_MASK)))
def test_fill_mask_example(example, want):
    raw = fill_mask.predict(*example)[-1]
    tops = [[c["token"] for c in p["candidates"]] for p in raw["predictions"]]
    assert len(tops) == len(want)
    for top5, words in zip(tops, want):
        assert set(top5) & set(words), (example[0], top5, words)


@pytest.mark.parametrize("example,want", list(zip(OFFLINE_QA, expected.QA)))
def test_qa_example(example, want):
    raw = qa.answer(*example, 5, 30, 0.0)[-1]
    got = raw["answer"] and raw["answer"]["text"]
    assert got == want, (example[0], got)
    if want:  # the span is where the offsets say: decode it from the context independently
        a = raw["answer"]
        assert example[1][a["start"]:a["end"]] == want


@pytest.mark.parametrize("example,want", list(zip(tagging.EXAMPLES, expected.TAGGING)))
def test_tagging_example(example, want):
    raw = tagging.tag(example[0], example[1], None, "first")[-1]
    if example[1] == "Parts of speech":
        got = {(w["word"], w["label"]) for w in raw["words"]}
    else:  # Weibo types carry .NAM / .NOM: the type is what the example is about
        got = {(e["text"], e["label"].split(".")[0]) for e in raw["entities"]}
    assert set(want) <= got, (example[0], sorted(got))


@pytest.mark.parametrize("example,want", list(zip(prompt_cls.EXAMPLES, expected.PROMPT)))
def test_prompt_example(example, want):
    text, preset, backend = example
    template, verbalizer, model = prompt_cls.load_preset(preset)
    # the tab's defaults for what an example does not set: uncalibrated, no demonstrations
    raw = prompt_cls.classify(text, template, verbalizer, backend, model, False, NO_FEW_SHOT, False, None)[-1]
    assert max(raw["scores"], key=raw["scores"].get) == want, (text, raw["scores"])


@pytest.mark.parametrize("example,want", list(zip(chinesebert.EXAMPLES, expected.CHINESEBERT)))
def test_chinesebert_example(example, want):
    raw = chinesebert.inspect(example[0], "zh-fused")[-1]
    got = [(c["char"], c["pinyin"]) for c in raw["chars"]]
    assert all(pair in got for pair in want), got


def test_chinesebert_fill_default_and_sentiment_example():
    top = chinesebert.fill(chinesebert.FILL_DEFAULT, "zh-fused")
    assert top.iloc[0]["char"] == "饭"
    senti = chinesebert.sentiment(chinesebert.EXAMPLES[2][0], "zh-fused")
    assert senti["positive"] > 0.5
