"""The fill-mask module on the real shipped embedded models."""
import numpy as np
import pytest

from models import fill_mask
from models.errors import InputError, ModelUnavailable

# Sentences written for this test (not in any training corpus) and a word the model should
# rank in its top 5. A model that has not learned English fails these.
HELD_OUT = [
    ("Paris is the [MASK] of France.", "capital"),
    ("She opened the [MASK] and walked into the kitchen.", "door"),
    ("He drank a glass of [MASK] before going to bed.", "water"),
    ("The children went to [MASK] every morning by bus.", "school"),
    ("It was raining, so she took her [MASK] with her.", "umbrella"),
    ("They ate breakfast and then went to [MASK] at the office.", "work"),
    ("The sun rises in the [MASK] and sets in the west.", "east"),
    ("He played the [MASK] in a rock band for ten years.", "guitar"),
    ("The president of the United [MASK] gave a speech.", "states"),
    ("She was born in [MASK] 1985, in a small town.", "january"),
]


# measured: 7 of 10 (general) and 6 of 10 (movies); an untrained MLM head gets 0
@pytest.mark.parametrize("model,at_least", [("embedded-general", 6), ("embedded-movies", 5)])
def test_embedded_models_know_english(model, at_least):
    hits = [word in [c.token for c in fill_mask.predict(text, model).predictions[0].candidates]
            for text, word in HELD_OUT]
    assert sum(hits) >= at_least, hits


def test_movie_model_shows_the_domain_shift():
    general = [c.token for c in fill_mask.predict("This is a great [MASK].", "embedded-general").predictions[0].candidates]
    movies = [c.token for c in fill_mask.predict("This is a great [MASK].", "embedded-movies").predictions[0].candidates]
    assert movies[0] in ("movie", "film") and "movie" not in general and "film" not in general


def test_result_is_complete_and_probabilities_are_sorted():
    r = fill_mask.predict("The [MASK] barked at the [MASK].", top_k=7)
    assert len(r.predictions) == 2
    for p in r.predictions:
        scores = [c.score for c in p.candidates]
        assert len(scores) == 7 and scores == sorted(scores, reverse=True)
        assert 0 < sum(scores) <= 1.0 + 1e-6
        assert r.tokens[p.position] == "[MASK]"
    assert "[MASK]" not in r.filled and r.filled.startswith("The ")
    assert r.sequences == []  # only for a single mask
    assert r.to_dict()["predictions"][1]["candidates"][0]["token"] == r.predictions[1].candidates[0].token


def test_both_mask_spellings_give_the_same_prediction():
    a = fill_mask.predict("Paris is the [MASK] of France.")
    b = fill_mask.predict("Paris is the <mask> of France.")
    assert [c.token for c in a.predictions[0].candidates] == [c.token for c in b.predictions[0].candidates]
    assert len(a.sequences) == 5 and a.sequences[0] == a.filled


def test_capture_exposes_attentions_and_hidden_states():
    r = fill_mask.predict("A [MASK] test.", capture=True)
    n = len(r.tokens)
    assert len(r.attentions) == 6 and r.attentions[0].shape == (12, n, n)
    np.testing.assert_allclose(r.attentions[3].sum(-1), 1.0, atol=1e-4)  # softmax rows
    assert len(r.hidden_states) == 7 and r.hidden_states[0].shape == (n, 384)
    assert r.mask_logits.shape == (1, 30522)
    top = int(r.mask_logits[0].argmax())
    assert r.predictions[0].candidates[0].token_id == top


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("no mask here", "No mask"),
    ("[MASK] " * 11, "at most 10"),
    ("x" * 1_000_001 + " [MASK]", "limit is 100,000"),
])
def test_bad_input_is_a_clear_error(text, match):
    with pytest.raises(InputError, match=match):
        fill_mask.predict(text)


def test_bad_top_k_and_unknown_model():
    with pytest.raises(InputError, match="top_k"):
        fill_mask.predict("a [MASK]", top_k=0)
    with pytest.raises(ModelUnavailable, match="Unknown model"):
        fill_mask.predict("a [MASK]", model="no-such-model")


def test_long_text_keeps_a_window_around_the_mask():
    text = "The weather was fine. " * 300 + "Paris is the [MASK] of France." + " More text follows." * 50
    r = fill_mask.predict(text)
    assert any("reads 510 at once" in n for n in r.notices)
    assert len(r.tokens) == 512
    pos = r.mask_positions[0]
    assert r.tokens[pos - 3:pos + 4] == ["paris", "is", "the", "[MASK]", "of", "france", "."]
    assert 100 < pos < 412  # centred: context kept on both sides


def test_masks_too_far_apart_for_one_window():
    with pytest.raises(InputError, match="tokens apart"):
        fill_mask.predict("[MASK] " + "word " * 700 + "[MASK]")


def test_emoji_rtl_and_zero_width_are_handled():
    r = fill_mask.predict("I love this \U0001F600 [MASK]\u200b!")
    assert any("invisible" in n for n in r.notices)
    assert any("not in the model's vocabulary" in n for n in r.notices)
    r = fill_mask.predict("هذا [MASK] جميل جدا")
    assert any("English text only" in n for n in r.notices)
    assert len(r.predictions[0].candidates) == 5


@pytest.mark.parametrize("model,top5_at_least", [("embedded-general", 15), ("embedded-movies", 12), ("embedded-tiny", 17)])
def test_cloze_probes_stay_at_their_measured_level(model, top5_at_least):
    """The 30 probes of samples/probes/cloze_probes.tsv (issue 13); thresholds are 2 below what each shipped
    model measured (17 / 14 / 19 in the top 5), so a broken model or tokenizer path fails here."""
    from models.scoring import score_probes

    assert score_probes(model)["top5"] >= top5_at_least


def test_head_on_the_masks_only_gives_the_full_models_logits(monkeypatch):
    """Issue 16 (speed): forward() runs the vocabulary head on the mask positions only; the logits there
    must be the full model's (compared in fp32)."""
    import torch

    from models import fill_mask, precision

    monkeypatch.setattr(precision, "bf16_enabled", lambda: False)

    lm = fill_mask.load("embedded-general")
    inputs = fill_mask.preprocess("Paris is the [MASK] of France, and [MASK] is its river.", lm)
    with torch.no_grad():
        fast = fill_mask.forward(lm, inputs)
        full = lm.model(input_ids=torch.tensor([inputs.ids])).logits[0, inputs.positions]
    assert fast.logits.shape[1] == 2 and torch.allclose(fast.logits[0], full, atol=1e-4)


def test_fill_mask_runs_fp32_while_qa_and_tagging_use_bf16(monkeypatch):
    """Session 6: with the session-5 masked LMs bf16 fill-mask is no faster and agrees with fp32 at 98.2 % of
    masks (the bar is 99 %), so fill-mask runs fp32 even where the CPU has bf16; QA and tagging keep bf16
    (within 0.2 F1 points of fp32). BERT_DEMO_PRECISION=fp32 (bf16_enabled False) turns it off everywhere."""
    import torch

    from models import precision

    monkeypatch.setattr(precision, "bf16_enabled", lambda: True)
    for task, on in [("fill-mask", False), ("qa", True), ("tagging", True)]:
        with precision.autocast(task):
            assert torch.is_autocast_enabled("cpu") is on, task
    monkeypatch.setattr(precision, "bf16_enabled", lambda: False)
    with precision.autocast("qa"):
        assert not torch.is_autocast_enabled("cpu")
