"""Extractive QA: span search rules, windows, and the real embedded model."""
import numpy as np
import pytest

from models import qa
from models.errors import InputError
from tabs.qa import AMAZON, TELEPHONE


def test_span_search_respects_order_length_and_context():
    start = np.array([9.0, 1.0, 2.0, 8.0, 0.5, 0.1])
    end = np.array([9.0, 7.0, 0.3, 0.2, 6.0, 0.1])
    is_ctx = np.array([False, True, True, True, True, True])  # position 0 is [CLS]/question
    cands = qa._span_candidates(start, end, is_ctx, max_answer_len=2)
    assert cands, "some valid span exists"
    for score, s, e in cands:
        assert is_ctx[s] and is_ctx[e] and s <= e and e - s + 1 <= 2
    best = max(cands)
    assert (best[1], best[2]) == (3, 4)  # 8 + 6; (0, 0) is outside the context, (3, 1) is reversed


def test_embedded_model_answers_held_out_questions():
    r = qa.predict("Which country contains the majority of the Amazon rainforest?", AMAZON)
    assert r.answer is not None and "Brazil" in r.answer.text
    assert AMAZON[r.answer.start:r.answer.end] == r.answer.text
    assert len(r.context_logits) > 50 and len(r.windows) == 1
    probs = [a.probability for a in r.nbest]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-6


def test_long_context_is_windowed_and_merged():
    r = qa.predict("Who was awarded the first US patent for the telephone?", TELEPHONE)
    assert len(r.windows) > 1 and any("windows" in n for n in r.notices)
    assert "Bell" in r.answer.text
    # every context token appears once in the merged logits, in order
    starts = [t.start for t in r.context_logits]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert r.context_logits[-1].end >= len(TELEPHONE) - 2


def test_null_threshold_controls_abstention():
    q = "Which country contains the majority of the Amazon rainforest?"
    assert qa.predict(q, AMAZON, null_threshold=-1000).answer is None
    assert qa.predict(q, AMAZON, null_threshold=1000).answer is not None


@pytest.mark.parametrize("question", ["Who won the football World Cup in 2030?",
                                      "What is the boiling point of mercury?", "Who painted the Mona Lisa?"])
def test_unanswerable_question_gets_no_answer_while_the_answerable_one_gets_its_span(question):
    """The embedded model was trained with no-answer examples: its [CLS] score beats every span of a context
    that does not hold the answer, by a margin, and loses to the span of one that does."""
    r = qa.predict(question, AMAZON)
    assert r.answer is None and r.null_score > r.nbest[0].score + 5
    hit = qa.predict("Which country contains the majority of the Amazon rainforest?", AMAZON)
    assert hit.answer is not None and hit.answer.text == "Brazil" and hit.answer.score > hit.null_score


@pytest.mark.parametrize("question,context,match", [
    ("", AMAZON, "question is empty"),
    ("What?", "  ", "context is empty"),
    ("What?", "x" * 1_000_000, "limit is 50,000"),
    ("word " * 300 + "?", AMAZON, "Shorten the question"),
])
def test_bad_input(question, context, match):
    with pytest.raises(InputError, match=match):
        qa.predict(question, context)


def test_chinese_on_the_english_model_answers_with_a_notice():
    r = qa.predict("苏轼是哪里人?", "苏轼是北宋著名的文学家与政治家,眉州眉山人。")
    assert any("English" in n for n in r.notices)
    assert r.nbest  # it still answers


def test_cutting_the_shared_padding_keeps_every_real_tokens_logits():
    """The window is padded to 256 tokens; the forward pass runs only on the columns some window uses.
    Oracle: the model on the full padded windows, in full precision."""
    import torch

    m = qa.load()
    short = qa.preprocess("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare.", m)
    longer = qa.preprocess("Where?", AMAZON, m)
    parts = [short.batch(m, [0]), longer.batch(m, [0])]
    batch = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    with torch.no_grad(), torch.autocast("cpu", enabled=False):
        full = m.model(**batch)
    (starts, ends), (long_starts, _) = qa.forward_many(m, [short, longer])
    real = batch["attention_mask"][0].bool().numpy()
    assert real.sum() < len(real) // 4  # the short question really was mostly padding
    np.testing.assert_allclose(starts[0][real], full.start_logits[0][real].numpy(), atol=0.15)  # bf16 rounding
    np.testing.assert_allclose(ends[0][real], full.end_logits[0][real].numpy(), atol=0.15)
    assert (starts[0][~real] == qa.PAD_LOGIT).all()
    long_real = batch["attention_mask"][1].bool().numpy()
    np.testing.assert_allclose(long_starts[0][long_real], full.start_logits[1][long_real].numpy(), atol=0.15)


def test_the_logits_plot_marks_the_answer_tokens_and_draws_every_context_token():
    from tabs.qa import PLOT_TOKENS, logits_frame

    r = qa.predict("How much of the rainforest is in Peru?", AMAZON)
    frame, shown_note = logits_frame(r)
    span = frame[(frame.series == "answer span") & (frame["token #"] % 1 == 0)]  # less the bar's two half ends
    tok = qa.load().tokenizer
    # the marked tokens, decoded, are the answer (wordpieces joined back; the tokenizer is uncased)
    assert tok.convert_tokens_to_string(list(span.token)).replace(" ", "") == r.answer.text.lower() == "13%"
    starts = frame[frame.series == "start logit"]
    assert len(starts) == min(len(r.context_logits), PLOT_TOKENS) and shown_note == ""
    assert list(starts.logit) == [t.start_logit for t in r.context_logits]
    assert set(frame[frame.series == "[CLS] score / 2"].logit) == {r.null_score / 2}
