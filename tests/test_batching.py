"""Dynamic batching: 16 requests sent at once share forward passes, and each gets the answer it gets alone.
Where the CPU computes bf16 natively, QA and tagging run in bf16 (models/precision.py), whose sums depend a
little on the batch's shape: there the same answers and labels, scores within bf16's rounding (1 %)."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from models import batching, fill_mask, qa, tagging

FILL = ["Paris is the [MASK] of France.", "The cat sat on the [MASK].", "She drank a cup of [MASK] this morning.",
        "He [MASK] the ball to his brother.", "The [MASK] barked at the mailman all night long.",
        "Water is made of hydrogen and [MASK].", "I am going to the [MASK] to buy some bread.",
        "The sun rises in the [MASK] and sets in the west."] * 2
CONTEXT = ("The Amazon rainforest covers most of the Amazon basin of South America. The majority of the forest is "
           "contained within Brazil, with 60% of the rainforest, followed by Peru with 13%, and Colombia with 10%.")
QUESTIONS = ["Which country contains most of the rainforest?", "How much of the forest is in Peru?",
             "Which basin does the rainforest cover?", "What share does Colombia have?"] * 4
TEXTS = ["Angela Merkel met Emmanuel Macron in Paris.", "Apple opened a store in Berlin last week.",
         "The United Nations met in New York.", "Lionel Messi plays for Inter Miami in Florida."] * 4


def _at_once(fn, items):
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(fn, items))


def test_the_batcher_answers_each_caller_with_its_own_result_and_shares_passes():
    b = batching.Batcher(max_batch=8, wait_s=0.02)
    seen = []

    def many(items):
        seen.append(len(items))
        time.sleep(0.01)
        return [x * 10 for x in items]

    out = _at_once(lambda x: b.run(x, many), list(range(20)))
    assert out == [x * 10 for x in range(20)] and sum(seen) == 20 and max(seen) > 1 and max(seen) <= 8

    def broken(items):
        raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        b.run(1, broken)
    assert b.run(3, many) == 30  # a failed batch leaves the batcher working


def test_a_lone_request_runs_at_once_and_a_burst_waits_for_its_rest(monkeypatch):
    slept = []
    monkeypatch.setattr(batching.time, "sleep", slept.append)
    b = batching.Batcher(max_batch=8, wait_s=0.5)
    assert b.run(2, lambda items: [x + 1 for x in items]) == 3 and slept == []  # alone: no wait
    running, release = threading.Event(), threading.Event()

    def slow(items):
        running.set()
        release.wait(5)
        return items

    first = threading.Thread(target=b.run, args=(0, slow))
    first.start()  # leads, and holds the lead in its pass
    assert running.wait(5)
    late = [threading.Thread(target=b.run, args=(k, slow)) for k in (1, 2)]
    for t in late:
        t.start()
    while len(b._pending) < 2:
        pass
    release.set()
    for t in [first, *late]:
        t.join(5)
    assert slept == [0.5]  # the next leader found another request waiting: a burst, so it waited once


def test_every_pass_runs_on_the_one_model_thread_without_autograd_and_a_nested_pass_does_not_wait_on_itself():
    import torch

    seen = []

    def many(items):
        seen.append((threading.current_thread().name, torch.is_grad_enabled()))
        return items

    outer, inner = batching.Batcher(wait_s=0), batching.Batcher(wait_s=0)
    with torch.enable_grad():
        assert _at_once(lambda x: outer.run(x, many), list(range(8))) == list(range(8))
        # a pass that asks another batcher for a pass (it runs inline on the model thread)
        assert outer.run(5, lambda items: [inner.run(x * 2, many) for x in items]) == 10
    assert seen and all(name.startswith("model-passes") and not grad for name, grad in seen)


def test_sixteen_concurrent_fill_mask_requests_get_their_answers_alone():
    alone = [fill_mask.predict(t) for t in FILL]
    b = batching.batcher(fill_mask.TASK, fill_mask.DEFAULT_MODEL)
    batches_before, items_before = b.batches, b.items
    together = _at_once(fill_mask.predict, FILL)
    assert b.items - items_before == 16 and b.batches - batches_before < 16  # passes were shared
    for a, t in zip(alone, together):
        assert [c.token for c in a.predictions[0].candidates] == [c.token for c in t.predictions[0].candidates]
        assert [c.score for c in a.predictions[0].candidates] == pytest.approx(
            [c.score for c in t.predictions[0].candidates], abs=1e-4)


def test_sixteen_concurrent_questions_and_taggings_get_their_answers_alone():
    alone = [qa.predict(q, CONTEXT) for q in QUESTIONS]
    together = _at_once(lambda q: qa.predict(q, CONTEXT), QUESTIONS)
    for a, t in zip(alone, together):
        assert (a.answer and a.answer.text) == (t.answer and t.answer.text)
        assert [x.text for x in a.nbest] == [x.text for x in t.nbest]
        assert a.nbest[0].score == pytest.approx(t.nbest[0].score, rel=1e-2)
    alone = [tagging.predict(t) for t in TEXTS]
    together = _at_once(tagging.predict, TEXTS)
    for a, t in zip(alone, together):
        assert [(w.word, w.label) for w in a.words] == [(w.word, w.label) for w in t.words]
        assert [w.score for w in a.words] == pytest.approx([w.score for w in t.words], abs=1e-2)


def test_sixteen_concurrent_chinese_reviews_get_their_scores_alone():
    from models.chinese import mlm as chinese_mlm

    reviews = ["这家酒店的服务非常好，房间也很干净。", "菜太难吃了，再也不来了。", "物流很快，包装完好，满意。",
               "质量一般，价格偏贵。"] * 4
    alone = [chinese_mlm.classify_sentiment(r) for r in reviews]
    together = _at_once(chinese_mlm.classify_sentiment, reviews)
    for a, t in zip(alone, together):
        assert a.keys() == t.keys() and list(a.values()) == pytest.approx(list(t.values()), abs=1e-3)


def _passes(key: tuple) -> tuple[int, int]:
    b = batching.batcher(*key)
    return b.batches, b.items


@pytest.mark.parametrize("backend", ["cloze", "embedding", "supervised"])
def test_sixteen_concurrent_prompt_classifications_get_their_answers_alone_and_share_passes(backend):
    from models import prompt_cls
    from models.prompt.spec import spec_key

    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    texts = ["a gorgeous, witty, seductive movie.", "a tedious, overlong mess", "It never once made me laugh, "
             "though it tries very hard to be funny.", "the plot is nothing but boilerplate clichés from start to finish."] * 4
    alone = [prompt_cls.predict(t, spec, backend) for t in texts]
    key = {"cloze": ("cloze", "embedded-general", spec_key(spec)),
           "embedding": ("embedding-zero-shot", spec_key(spec)), "supervised": ("sentiment", "embedded-sst2")}[backend]
    before = _passes(key)
    together = _at_once(lambda t: prompt_cls.predict(t, spec, backend), texts)
    batches, items = (a - b for a, b in zip(_passes(key), before))
    assert items == 16 and batches < 16  # some requests shared a pass
    for a, t in zip(alone, together):
        assert a.label == t.label and list(a.scores.values()) == pytest.approx(list(t.scores.values()), abs=1e-3)
        assert [w["word"] for w in a.word_scores] == [w["word"] for w in t.word_scores]
        assert [w["logprob"] for w in a.word_scores] == pytest.approx([w["logprob"] for w in t.word_scores], abs=1e-2)


def test_sixteen_concurrent_chinese_blanks_get_their_characters_alone():
    from models.chinese import mlm as chinese_mlm

    texts = ["我喜欢吃[MASK]果。", "他去银[MASK]取钱。", "今天天气很[MASK]。", "中国的首都是北[MASK]。"] * 4
    alone = [chinese_mlm.fill_mask(t) for t in texts]
    together = _at_once(chinese_mlm.fill_mask, texts)
    for a, t in zip(alone, together):
        assert [[c for c, _ in blank] for blank in a] == [[c for c, _ in blank] for blank in t]
        assert [p for blank in a for _, p in blank] == pytest.approx([p for blank in t for _, p in blank], abs=1e-3)
