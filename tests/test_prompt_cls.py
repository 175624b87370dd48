"""Prompt classification: template/verbalizer validation, cloze scoring, calibration, few-shot."""
import math

import numpy as np
import pytest

from models import fill_mask, prompt_cls, readers
from models.errors import InputError

SPEC = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])


@pytest.mark.parametrize("template,verb,match", [
    ("{text} It was great.", {"a": ["x"], "b": ["y"]}, "mask"),
    ("It was {mask}.", {"a": ["x"], "b": ["y"]}, "text"),
    ("{text} {mask}", {"a": ["x"]}, "at least two labels"),
    ("{text} {mask}", [("a", "x"), ("a", "y")], "Duplicate"),
    ("{text} {mask}", [("a", "x"), ("b", " ")], "without words"),
])
def test_bad_specs_are_refused(template, verb, match):
    with pytest.raises(InputError, match=match):
        prompt_cls.make_spec(template, verb)


def test_verbalizer_rows_accept_several_words():
    spec = prompt_cls.make_spec("{text} {mask}", [("pos", "good, great"), ("neg", "bad; awful")])
    assert spec.verbalizer == {"pos": ["good", "great"], "neg": ["bad", "awful"]}


def test_scores_are_the_mlm_probabilities_at_the_mask():
    """Single-piece words: the label score must equal the fill-mask probability, renormalised."""
    r = prompt_cls.predict("a gorgeous, witty, seductive movie.", SPEC)
    assert r.prompt == "a gorgeous, witty, seductive movie. It was [MASK]."
    fm = fill_mask.predict(r.prompt, top_k=50)
    lm = fill_mask.load()
    logp = {w["word"]: w["logprob"] for w in r.word_scores}
    p = {l: math.exp(logp[ws[0]]) for l, ws in SPEC.verbalizer.items()}
    total = sum(p.values())
    for label in SPEC.labels:
        assert r.scores[label] == pytest.approx(p[label] / total, abs=1e-3)
    assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-5)
    listed = {c.token: c.score for c in fm.predictions[0].candidates}
    for w in ("great", "terrible"):  # the fill-mask tab runs bf16 where the CPU has it, the cloze scores fp32
        if w in listed:
            assert listed[w] == pytest.approx(math.exp(logp[w]), rel=3e-2)
    assert lm.tokenizer.mask_token in r.prompt


def test_multi_piece_words_are_scored_not_dropped():
    spec = prompt_cls.make_spec("{text} It was {mask}.", [("pos", "fantastically"), ("neg", "disappointing")])
    r = prompt_cls.predict("I loved it.", spec)
    pieces = {w["word"]: w["pieces"] for w in r.word_scores}
    assert any(len(p) > 1 for p in pieces.values()), pieces
    assert set(r.scores) == {"pos", "neg"}


def test_calibration_divides_by_the_content_free_scores():
    text = "the film is long."
    plain = prompt_cls.predict(text, SPEC)
    cal = prompt_cls.predict(text, SPEC, calibrate=True)
    cf = prompt_cls.predict(prompt_cls.CONTENT_FREE, SPEC)
    want = np.array([plain.scores[l] / cf.scores[l] for l in SPEC.labels])
    want /= want.sum()
    assert [cal.scores[l] for l in SPEC.labels] == pytest.approx(list(want), abs=1e-4)
    assert cal.uncalibrated == pytest.approx(plain.scores)


def test_demonstrations_are_in_the_prompt():
    ex = [("a joyous ride", "positive"), ("a dreary slog", "negative")]
    r = prompt_cls.predict("fun", SPEC, examples=ex, use_demos=True)
    assert "a joyous ride It was great." in r.prompt and "a dreary slog It was terrible." in r.prompt


def test_few_shot_rows_are_validated_when_used_and_ignored_when_not():
    with pytest.raises(InputError, match="not one of"):
        prompt_cls.predict("x", SPEC, examples=[("t", "neutral")], use_demos=True)
    with pytest.raises(InputError, match="no text"):
        prompt_cls.predict("x", SPEC, examples=[("", "positive")], use_demos=True)
    # issue 12, defect 1: the sentiment rows of the few-shot table must not block a Topic preset
    topic = prompt_cls.make_spec(*prompt_cls.PRESETS["Topic (World / Sports / Business / Tech)"])
    r = prompt_cls.predict("The striker scored twice in the cup final.", topic, examples=[("t", "positive")])
    assert set(r.scores) == set(topic.labels)


def test_template_with_an_unknown_slot_is_refused():
    with pytest.raises(InputError, match=r"Unknown slot.*\{foo\}"):
        prompt_cls.make_spec("{text} {foo} It was {mask}.", {"a": ["x"], "b": ["y"]})


@pytest.mark.parametrize("template", ["{mask} news: {text}", "{text} It was {mask}, really.",
                                      "In short, {mask}: {text}"])
def test_causal_lm_scores_the_word_in_place_for_any_slot_order(template):
    """Issue 12, defect 2: a template starting with {mask} crashed, and text after {mask} was ignored."""
    spec = prompt_cls.make_spec(template, {"negative": ["terrible"], "positive": ["great"]})
    r = prompt_cls.predict("a gorgeous, witty, seductive movie.", spec, backend="causal-lm")
    assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-5)
    head, tail = template.split("{mask}")
    assert r.prompt == head.replace("{text}", "a gorgeous, witty, seductive movie.") + "___" + \
        tail.replace("{text}", "a gorgeous, witty, seductive movie.")
    # the text after the blank is part of the score: changing it changes the word log-probabilities
    other = prompt_cls.make_spec(template.replace("{mask}", "{mask} and dull"), spec.verbalizer)
    r2 = prompt_cls.predict("a gorgeous, witty, seductive movie.", other, backend="causal-lm")
    assert [w["logprob"] for w in r.word_scores] != [w["logprob"] for w in r2.word_scores]


def test_prompt_finetuning_learns_and_leaves_the_shared_model_alone():
    ex = [("zorbly wonderful", "positive"), ("zorbly nice", "positive"),
          ("zorbly dreadful", "negative"), ("zorbly awful", "negative")] * 2
    shared = fill_mask.load()
    before = {n: p.clone() for n, p in shared.model.named_parameters() if n.endswith(".bias")}
    tuned = prompt_cls.prompt_finetune(SPEC, ex, epochs=8, lr=3e-3)
    assert tuned.meta["final_loss"] < tuned.meta["losses"][0]
    for n, p in shared.model.named_parameters():
        if n in before:
            assert p.equal(before[n])
    assert tuned.model is not shared.model


def test_sst2_eval_cli_prints_json(tmp_path):
    import json
    import subprocess
    import sys

    data = tmp_path / "s.tsv"
    data.write_text("sentence\tlabel\na wonderful , moving film \t1\na dull , lifeless mess \t0\n")
    out = subprocess.run([sys.executable, "-m", "models.eval", "sst2", str(data), "--calibrate"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"task", "model", "backend", "shots", "seed", "n", "accuracy"} <= set(res) and res["n"] == 2


def test_causal_lm_backend_runs_offline():
    r = prompt_cls.predict("a gorgeous, witty, seductive movie.", SPEC, backend="causal-lm", calibrate=True)
    assert r.prompt.startswith("a gorgeous, witty, seductive movie. It was")
    assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert {w["word"] for w in r.word_scores} == {"great", "terrible"}
    assert r.uncalibrated != r.scores


def test_nli_backend_offline_is_a_clear_error(monkeypatch):
    from models import loading
    from models.errors import ModelUnavailable

    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(ModelUnavailable, match="Hub"):
        prompt_cls.predict("fine", SPEC, backend="nli")


SENTIMENT_PROBES = readers.read_labelled_tsv(readers.PROBES.with_name("sentiment_probes.tsv"))


@pytest.mark.parametrize("backend,preset", [("embedding", prompt_cls.SST2_PRESET), ("causal-lm", prompt_cls.SST2_PRESET),
                                            ("ensemble", prompt_cls.SST2_PRESET), ("embedding", prompt_cls.SUMMARY_PRESET),
                                            ("ensemble", prompt_cls.SUMMARY_PRESET), ("supervised", prompt_cls.SST2_PRESET)])
def test_obvious_sentiment_probes_come_out_right(backend, preset):
    """Issue 13: "Terrible, boring, a waste of time." came out positive with every backend. The embedding,
    causal-LM and ensemble backends (uncalibrated; cloze and ensemble on the preset's movie-review MLM) get all
    20 obvious probes right; the cloze backend alone does not yet (17-18 of 20, see RESULTS.md), nor the
    causal-LM with the summary prompt (14: SmolLM2 favours "All in all, it was great")."""
    assert len(SENTIMENT_PROBES) == 20
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[preset])
    probs, _, _ = prompt_cls.label_probabilities(spec, [t for t, _ in SENTIMENT_PROBES], backend,
                                                 prompt_cls.PRESET_MODELS[preset])
    wrong = [t for p, (t, l) in zip(probs, SENTIMENT_PROBES) if spec.labels[int(p.argmax())] != l]
    assert wrong == []


def test_embedding_backend_zero_shot_and_setfit_leave_the_shared_encoder_alone():
    from models import sentence_embedding

    r = prompt_cls.predict("Terrible, boring, a waste of time.", SPEC, backend="embedding")
    assert r.label == "negative" and r.model == "all-MiniLM-L6-v2"
    assert [w["pieces"][0] for w in r.word_scores] == ["It was terrible.", "It was great."]
    shared = sentence_embedding.load().model
    before = {n: p.clone() for n, p in shared.named_parameters()}
    examples = [("zorbly wonderful", "positive"), ("zorbly lovely", "positive"),
                ("zorbly dreadful", "negative"), ("zorbly awful", "negative")]
    tuned = sentence_embedding.setfit(examples, iterations=2, seed=0)
    assert tuned.model is not shared and tuned.meta["contrastive"] and len(tuned.meta["losses"]) > 0
    assert all(p.equal(before[n]) for n, p in shared.named_parameters())
    r = prompt_cls.predict("zorbly lovely", SPEC, backend="embedding", tuned=tuned)
    assert r.label == "positive" and "SetFit" in r.model
    # demonstrations on: a head fit on the frozen encoder, refused labels it never saw are reported
    r = prompt_cls.predict("zorbly dreadful", SPEC, backend="embedding", examples=examples, use_demos=True)
    assert r.label == "negative" and any("logistic-regression head" in n for n in r.notices)
    topic = prompt_cls.make_spec(*prompt_cls.PRESETS["Topic (World / Sports / Business / Tech)"])
    with pytest.raises(InputError, match="trained on labels"):
        prompt_cls.predict("shares fell", topic, backend="embedding", tuned=tuned)


def test_causal_lm_conversion_is_kept_and_reused(tmp_path, monkeypatch):
    """Issue 16: converting SmolLM2's GGUF takes ~20 s; the converted copy is written once and read back
    (same weights, same scores) by the next load."""
    import torch

    from models import loading

    monkeypatch.setenv("BERT_DEMO_CACHE", str(tmp_path))
    loading.MODEL_CACHE.forget(("causal-lm", prompt_cls.CAUSAL_LM))
    first = prompt_cls.load_causal_lm()
    cache = prompt_cls.converted_cache(prompt_cls.smollm2_path()[1])
    assert (cache / "model.safetensors").is_file() and (cache / "tokenizer.json").is_file()
    loading.MODEL_CACHE.forget(("causal-lm", prompt_cls.CAUSAL_LM))
    second = prompt_cls.load_causal_lm()
    ids = first.tokenizer("a gorgeous, witty movie", return_tensors="pt")["input_ids"]
    assert second.tokenizer("a gorgeous, witty movie", return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    with torch.no_grad():
        assert torch.equal(first.model(ids).logits, second.model(ids).logits)
    loading.MODEL_CACHE.forget(("causal-lm", prompt_cls.CAUSAL_LM))


def test_ensemble_is_the_mean_of_its_members_and_says_so():
    texts = ["a gorgeous, witty, seductive movie.", "a dull, lifeless mess."]
    members = {}
    probs, raw, shown = prompt_cls.label_probabilities(SPEC, texts, "ensemble", "embedded-movies", calibrate=True,
                                                       members=members)
    parts = [prompt_cls.label_probabilities(SPEC, texts, b, "embedded-movies", calibrate=True)
             for b in prompt_cls.ENSEMBLE]
    np.testing.assert_allclose(probs, np.mean([p[0] for p in parts], 0), atol=1e-6)
    np.testing.assert_allclose(raw, np.mean([p[1] for p in parts], 0), atol=1e-6)
    assert set(members) == set(prompt_cls.ENSEMBLE) and "[embedding]" in shown and "[cloze]" in shown
    r = prompt_cls.predict(texts[0], SPEC, "ensemble", "embedded-movies")
    assert r.model == "all-MiniLM-L6-v2 + embedded-movies"
    assert any(n.startswith("Ensemble: the mean of **embedding**") for n in r.notices)
    assert {w["backend"] for w in r.word_scores} == set(prompt_cls.ENSEMBLE)


def test_ensemble_gives_each_fine_tuned_model_to_its_own_member():
    """A prompt-tuned masked LM goes to the cloze member, a few-shot head to the embedding member."""
    examples = [("zorbly wonderful", "positive"), ("zorbly lovely", "positive"),
                ("zorbly dreadful", "negative"), ("zorbly awful", "negative")]
    tuned = prompt_cls.prompt_finetune(SPEC, examples, "embedded-movies", epochs=1, seed=0)
    r = prompt_cls.predict("zorbly", SPEC, "ensemble", "embedded-movies", examples=examples, use_demos=True,
                           tuned=tuned)
    assert r.model.endswith("(prompt-tuned)") and "SetFit" in r.model
    assert any("logistic-regression head" in n for n in r.notices)
    assert prompt_cls.member_tuned("cloze", [None, tuned]) is tuned
    assert prompt_cls.member_tuned("embedding", tuned) is None and prompt_cls.member_tuned("nli", tuned) is None
