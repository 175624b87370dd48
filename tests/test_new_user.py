"""What a new user met (issue 26), each a behaviour that must hold: the language check before the model,
notes for input with no words, one reader for every uploaded table, CJK glyphs in figures, similar
demonstrations, the [UNK] note naming what it stands for."""
import warnings

import pytest

from models import fill_mask, prompt_cls, qa, readers, tagging
from models.chinese import mlm as chinese_mlm
from models.errors import InputError
from models.inside import batch, projector


def test_a_chinese_model_refuses_english_text_before_any_forward_pass(monkeypatch):
    def never(*a, **k):
        raise AssertionError("the model ran")

    m = qa.load("zh-cmrc")
    monkeypatch.setattr(qa, "forward", never)
    with pytest.raises(InputError, match="reads Chinese only"):
        qa.predict("Who?", "The quick brown fox. " * 1000, m)
    with pytest.raises(InputError, match="reads Chinese only"):
        tagging.predict("Angela Merkel visited Paris.", "zh-weibo")


def test_chinese_text_on_an_english_model_gets_the_note():
    r = tagging.predict("我在北京的清华大学读书。", "embedded-ner")
    assert any("trained on English text only" in n for n in r.notices)


@pytest.mark.parametrize("run", [
    lambda t: fill_mask.predict(t + " [MASK]").notices,
    lambda t: qa.predict(t, t).notices,
    lambda t: tagging.predict(t).notices,
    lambda t: prompt_cls.predict(t, prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])).notices,
], ids=["fill-mask", "qa", "tagging", "prompt"])
def test_emoji_only_input_gets_a_note_in_every_tab(run):
    assert any("no letters or digits" in n for n in run("😀😀🎉🔥"))


def test_the_unk_note_names_what_it_stands_for():
    r = fill_mask.predict("I love this 😀🎉 movie, it is [MASK].")
    note = next(n for n in r.notices if "not in the model's vocabulary" in n)
    assert "😀🎉" in note and "emoji" not in note  # says what the pieces are, not a guess at their kind


def test_nearest_characters_refuse_a_latin_letter():
    with pytest.raises(InputError, match="not a Chinese character"):
        chinese_mlm.neighbours("a")
    assert chinese_mlm.neighbours("猫")["glyph"]


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_a_table_without_the_needed_columns_is_refused_naming_its_columns(tmp_path):
    bad = _write(tmp_path, "x.csv", "foo,bar\nthe film was great,1\nawful,0\nfine,1\n")
    for read in (lambda p: projector.read_table(p), lambda p: batch.run_batch(str(p), task="sentiment"),
                 lambda p: prompt_cls.read_few_shot_table(p), lambda p: batch.run_batch(str(p), task="qa")):
        with pytest.raises(InputError, match=r"'foo', 'bar'") as err:
            read(bad)
        assert "comma-separated" in str(err.value)


@pytest.mark.parametrize("sep,name", [(";", "semicolon"), ("|", "vertical bar"), ("\t", "tab"), (",", "comma")])
def test_the_separator_is_sniffed_from_the_header(tmp_path, sep, name):
    text = '"sweet, funny, warm"' if sep == "," else "sweet, funny, warm"  # a comma file quotes its commas
    p = _write(tmp_path, "reviews.csv", f"review{sep}label\n{text}{sep}positive\nflat{sep}negative\n")
    df = readers.read_upload_table(p)
    assert list(df.columns) == ["review", "label"] and df.attrs["separator"] == sep
    texts, labels, _ = projector.read_table(p)
    assert texts == ["sweet, funny, warm", "flat"] and labels == ["positive", "negative"]


def test_figures_draw_chinese_with_a_cjk_font():
    import matplotlib.pyplot as plt

    from tabs import common

    assert common.CJK_FONT == "Noto Sans SC"
    fig, ax = plt.subplots()
    ax.set_xticks([0, 1], ["苏轼", "眉山"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for a box
        fig.savefig(__import__("io").BytesIO(), format="png")
    plt.close(fig)


def test_similar_demonstrations_pick_the_closest_example_per_label_closest_last():
    spec = prompt_cls.make_spec("{text} It was {mask}.", {"negative": ["bad"], "positive": ["good"]})
    examples = [("the quarterly tax report was filed", "positive"), ("a warm, funny and moving film", "positive"),
                ("the bus was late again", "negative"), ("a dull, lifeless film with no laughs", "negative")]
    demos = prompt_cls.sample_demos(examples, spec, query="a funny and moving film")
    assert demos == [("a dull, lifeless film with no laughs", "negative"), ("a warm, funny and moving film", "positive")]
    random_demos = prompt_cls.sample_demos(examples, spec, selection="random", seed=0)
    assert [label for _, label in random_demos] == ["negative", "positive"]


def test_qa_batch_explains_every_answered_row_of_the_sample():
    res = batch.run_batch(None, task="qa")
    assert len(res.rows) == 10
    assert all(r["supports"] for r in res.rows if r["answer"])
    assert res.per_label and res.per_label[0]["rows"] == 10
