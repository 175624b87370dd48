"""Look-inside views: the math (attention rows, gates, pruning, projections) and the guards."""
import html

import numpy as np
import pytest
import torch

from models import fill_mask, tagging
from models.errors import InputError
from models.inside import attention, captum_views, compare, heads, logit_lens, projector

MLM = "fill-mask: embedded-general"


def test_attention_rows_are_distributions_of_every_layer_and_head():
    res = attention.attention("The cat sat on the mat.", MLM)
    cfg = fill_mask.load().model.config
    assert res.attentions.shape == (cfg.num_hidden_layers, cfg.num_attention_heads, len(res.tokens), len(res.tokens))
    np.testing.assert_allclose(res.attentions.sum(-1), 1.0, atol=1e-4)
    assert (res.attentions >= 0).all()


def test_long_input_is_capped_with_a_notice():
    res = attention.attention("word " * 400, MLM, max_tokens=64)
    assert len(res.tokens) == 64 and any("only the first 64" in n for n in res.notices)


def test_attention_view_escapes_user_tokens():
    from tabs.inside import attention as inside

    payload = "<script>alert('x')</script> & </script><img src=x onerror=alert(1)>"
    view = inside.attention_html(attention.attention(payload, MLM))
    assert "<script>alert" not in view and "<img" not in view  # nothing live in the outer page
    page = html.unescape(view.split('srcdoc="', 1)[1].rsplit('"', 1)[0])
    data = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and ">" not in data  # no token can close the data block
    assert page.count("<script") == 2  # the data block and the view's own code, nothing else


def test_logit_lens_last_layer_is_the_fill_mask_answer():
    res, rows = logit_lens.logit_lens("Paris is the [MASK] of France.", top_k=5)
    last = [r for r in rows if r.layer == len(res.hidden_states) - 1]
    assert [c.token for c in res.predictions[0].candidates] == last[0].tokens
    np.testing.assert_allclose([c.score for c in res.predictions[0].candidates], last[0].scores, atol=1e-3)
    assert {r.layer for r in rows} == set(range(len(res.hidden_states)))
    assert last[0].final_prob == pytest.approx(last[0].scores[0], abs=1e-3)
    assert all(0 < r.final_prob < 1 for r in rows)


def _upos():
    tg = heads.private_tagger("embedded-upos")
    return tg, heads.encode_labelled(tg, heads.load_labelled("embedded-upos")[:8])


def test_gates_of_one_change_nothing_and_a_pruned_head_changes_the_output():
    tg, batch = _upos()
    x = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    with torch.no_grad():
        plain = tg.model(**x).logits
        with heads.head_gates(tg.model, torch.ones(*heads.n_heads(tg.model))):
            gated = tg.model(**x).logits
        with heads.head_gates(tg.model, heads.gates_without(heads.n_heads(tg.model), [(0, 0)])):
            pruned = tg.model(**x).logits
        after = tg.model(**x).logits  # hooks removed on exit
    assert torch.equal(plain, gated) and torch.equal(plain, after)
    assert (plain - pruned).abs().max() > 1e-4


def test_gating_never_touches_the_tagging_tabs_model_even_concurrently():
    """Defect 4 of issue 12: a /tag request while /inside_pruning gates heads got a pruned model."""
    import threading

    shared = tagging.load("embedded-upos")
    text = "The quick brown fox jumps over the lazy dog because it wants to eat."
    expected = tagging.predict(text, "embedded-upos").to_dict()["words"]
    with pytest.raises(RuntimeError, match="private model copy"):
        with heads.head_gates(shared.model, torch.ones(*heads.n_heads(shared.model))):
            pass
    tg, batch = _upos()
    assert tg.model is not shared.model
    stop, seen, errors = threading.Event(), [], []

    def gate_forever():  # every head but one per layer pruned, again and again
        try:
            order = heads.pruning_order(np.ones(heads.n_heads(tg.model)))
            while not stop.is_set():
                heads.accuracy(tg, batch, heads.gates_without(heads.n_heads(tg.model), order))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=gate_forever) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        for _ in range(5):
            seen.append(tagging.predict(text, "embedded-upos").to_dict()["words"])
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert not errors and all(s == expected for s in seen)


def test_importance_and_pruning_never_empty_a_layer():
    tg, batch = _upos()
    imp = heads.head_importance(tg, batch)
    assert imp.shape == heads.n_heads(tg.model) and (imp >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(imp, axis=1), 1.0, atol=1e-5)
    order = heads.pruning_order(imp)
    assert len(order) == imp.size - imp.shape[0]  # all but one head per layer
    kept = heads.gates_without(imp.shape, order)
    assert (kept.sum(1) == 1).all()
    with pytest.raises(InputError, match="every head of layer"):
        heads.gates_without(imp.shape, [(1, h) for h in range(imp.shape[1])])
    with pytest.raises(InputError, match="no head"):
        heads.gates_without(imp.shape, [(99, 0)])


def test_projection_is_deterministic_and_places_a_known_text_on_its_point():
    texts, labels, _ = projector.read_table(projector.SAMPLE)
    assert set(labels) == {"negative", "positive"}  # named as the prediction colouring names them
    texts, labels = texts[:40], labels[:40]
    a = projector.project(texts, labels, MLM, "PCA", seed=0)
    b = projector.project(texts, labels, MLM, "PCA", seed=0)
    np.testing.assert_array_equal(a.points, b.points)
    # the batch is padded, the placed text is not: under bf16 that moves a point by a hair, never to another point
    spread = float(a.points.std())
    placed = a.place(texts[3])
    assert np.linalg.norm(placed - a.points[3]) < 0.01 * spread
    assert int(np.linalg.norm(a.points - placed, axis=1).argmin()) == 3
    assert np.linalg.norm(a.place(texts[3] + " terrible awful boring") - a.points[3]) > 0.05 * spread


def test_projector_file_guards(tmp_path, monkeypatch):
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("a,b\n1,2\n3,4\n5,6\n")
    with pytest.raises(InputError, match=r"needs a column named 'text'.*'a', 'b'"):
        projector.read_table(numbers)
    big = tmp_path / "big.tsv"
    big.write_text("label\tsentence\n" + "".join(f"{i % 2}\tsentence number {i}\n" for i in range(300)))
    monkeypatch.setattr(projector, "MAX_ROWS", 50)
    texts, labels, notes = projector.read_table(big)
    assert len(texts) == 50 and len(labels) == 50 and "300 rows" in notes[0]
    assert projector.read_table(big)[0] == texts  # the sample is seeded
    with pytest.raises(InputError, match="at least 3"):
        projector.project(["one", "two"], None, MLM)


def test_attributions_explain_what_the_tabs_predict_and_find_the_deciding_words():
    from models import prompt_cls, qa

    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    text = "The acting was great."
    att = captum_views.explain_classification(text, spec, "Occlusion").attribution
    assert att.target == prompt_cls.predict(text, spec).label  # the prediction the prompt tab shows
    scored = [(t, s) for t, s in att.spans if s is not None]
    assert max(scored, key=lambda x: x[1])[0] == "great."  # the word the sentiment rests on
    ctx = "Hamlet is a tragedy written by William Shakespeare around 1600."
    att = captum_views.explain_qa("Who wrote Hamlet?", ctx, "start", "Integrated Gradients").attribution
    assert att.target == qa.predict("Who wrote Hamlet?", ctx).answer.text == "William Shakespeare"
    by_size = sorted(((abs(s), t) for t, s in att.spans if s is not None), reverse=True)
    assert "William" in {t for _, t in by_size[:2]}  # the answer's first word weighs most for its start


def test_qa_attribution_explains_the_answer_the_tab_shows_in_long_contexts():
    """The view reads with the QA tab's own windows (256 tokens, stride) through qa.preprocess/forward.
    It used to encode one truncated 512-token window: an answer beyond it could not be explained."""
    from models import qa

    filler = " ".join(f"Paragraph {i} is about the weather in a small town, which was mild that year." for i in range(45))
    ctx = filler + " Hamlet is a tragedy written by William Shakespeare around 1600."
    question = "Who wrote the tragedy Hamlet?"
    shown = qa.predict(question, ctx)
    assert len(shown.windows) > 2 and len(qa.load().tokenizer(ctx)["input_ids"]) > 512
    att = captum_views.explain_qa(question, ctx, "end", "Occlusion").attribution
    assert att.target == shown.nbest[0].text
    win = shown.windows[shown.nbest[0].window]
    lo = min(a for (a, _), c in zip(win.offsets, win.is_context) if c)  # the answer's window starts here
    pos, scored = 0, []
    for text, score in att.spans:
        if score is not None:
            scored.append((pos, text))
        pos += len(text)
    assert scored and lo > 0 and min(p for p, _ in scored) == lo  # exactly the words of the answer's window
    assert "Shakespeare" in " ".join(t for _, t in scored)


def test_attention_exports_are_bounded(tmp_path, monkeypatch):
    """Issue 12, defect 5: every attention click left a temp dir behind."""
    import os
    import time

    from tabs import common
    from tabs.inside import attention as tab

    monkeypatch.setattr(common, "EXPORT_DIR", tmp_path)
    monkeypatch.setattr(common, "EXPORT_MAX_FILES", 3)
    stale = tmp_path / "old-attention.json"
    stale.write_text("{}")
    os.utime(stale, (time.time() - 2 * common.EXPORT_MAX_AGE_S,) * 2)
    paths = [tab.show_attention(f"The cat sat on mat number {i}.", tab.model_choices()[0])[2] for i in range(6)]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) <= 3 and not stale.exists()
    assert os.path.basename(paths[-1]) in left and os.path.basename(paths[0]) not in left


def test_linear_cka_is_one_for_the_same_representation_up_to_rotation_and_scale_and_low_for_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    assert compare.linear_cka(x, x) == pytest.approx(1.0)
    assert compare.linear_cka(x, 3.0 * x @ q + 5.0) == pytest.approx(1.0)  # rotation, scale, shift
    assert compare.linear_cka(x, rng.normal(size=(200, 16))) < 0.2
    assert compare.linear_cka(x, x[:, :4]) < compare.linear_cka(x, x[:, :12]) < 1.0  # keeps less, scores less


def test_compare_two_models_layer_by_layer_and_their_predictions():
    """Issue 17: a model against itself is CKA 1 on the diagonal with no prediction differing; the general and
    the movie-review masked LMs share their lower layers (frozen or barely moved) more than their top layer."""
    same = compare.compare(compare.DEFAULT_SENTENCES, MLM, MLM)
    np.testing.assert_allclose(np.diag(same.cka), 1.0, atol=1e-4)
    assert same.diff_kind == "fill-mask" and all(r["same"] for r in same.diff)
    res = compare.compare(compare.DEFAULT_SENTENCES, MLM, "fill-mask: embedded-movies")
    layers = fill_mask.load().model.config.num_hidden_layers
    assert res.cka.shape == (layers + 1, layers + 1) and ((0 <= res.cka) & (res.cka <= 1 + 1e-6)).all()
    assert res.cka[0, 0] == pytest.approx(1.0, abs=1e-4)  # the word embeddings are frozen and shared
    assert res.cka[-1, -1] < res.cka[1, 1]
    assert res.n_words == sum(len(compare.WORD.findall(line)) for line in compare.DEFAULT_SENTENCES.splitlines())
    assert len(res.diff) == 5 and {r["rank"] for r in res.diff} == {1, 2, 3, 4, 5}
    tags = compare.compare("Angela Merkel visited Paris.", "tagging: embedded-ner", "tagging: embedded-upos")
    assert tags.diff_kind == "tagging" and [r["word"] for r in tags.diff] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert any("noisy" in n for n in tags.notices)
    mixed = compare.compare("Angela Merkel visited Paris.", "qa: embedded-squad", MLM)
    assert mixed.diff_kind == "" and any("No prediction diff" in n for n in mixed.notices)
    with pytest.raises(InputError, match="at least one sentence"):
        compare.compare("  \n ", MLM, MLM)
    with pytest.raises(InputError, match="At most 64 sentences"):
        compare.compare("a b c\n" * 65, MLM, MLM)


def test_captum_methods_explain_the_tabs_own_prediction_and_add_up():
    """Issue 17, items 1 and 6: Integrated Gradients, LIME and occlusion explain the label the prompt tab
    predicts; IG's scores add up (small convergence delta); "X rather than Y" is antisymmetric in X and Y."""
    from models import prompt_cls
    from models.inside import captum_views

    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    text = "A gorgeous, witty film, though the ending drags."
    shown = prompt_cls.predict(text, spec, backend="cloze", model="embedded-general", calibrate=False)
    results = {m: captum_views.explain_classification(text, spec, m, "embedded-general") for m in captum_views.METHODS}
    for m, r in results.items():
        assert r.attribution.target == shown.label, m
        words = [t for t, s in r.attribution.spans if s is not None]
        assert words == text.split() and max(abs(s) for _, s in r.attribution.spans if s is not None) == 1.0
    assert results["Integrated Gradients"].delta < 0.05 and results["LIME"].delta is None
    again = captum_views.explain_classification(text, spec, "LIME", "embedded-general")
    assert again.attribution.spans == results["LIME"].attribution.spans  # seeded: the same on every click
    assert dict(results["Occlusion"].attribution.top(1))  # one word carries most
    xy = captum_views.explain_contrast("The movie was [MASK], I loved every minute.", "great", "terrible",
                                       "Integrated Gradients")
    yx = captum_views.explain_contrast("The movie was [MASK], I loved every minute.", "terrible", "great",
                                       "Integrated Gradients")
    assert xy.attribution.target_score == pytest.approx(-yx.attribution.target_score, abs=1e-3)
    for (w1, s1), (w2, s2) in zip(xy.attribution.spans, yx.attribution.spans):
        assert w1 == w2 and (s1 is None) == (s2 is None) and (s1 is None or s1 == pytest.approx(-s2, abs=0.02))
    with pytest.raises(InputError, match="one word-piece"):
        captum_views.explain_contrast("The movie was [MASK].", "great", "unbelievablyxyz", "Occlusion")
    with pytest.raises(InputError, match="Put a"):
        captum_views.explain_contrast("No blank here.", "great", "bad", "Occlusion")
    with pytest.raises(InputError, match="Unknown method"):
        captum_views.explain_contrast("It was [MASK].", "great", "bad", "SHAP")


def test_captum_explains_the_qa_answers_start_and_end_separately():
    from models import qa
    from models.inside import captum_views

    question, context = "Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600."
    shown = qa.predict(question, context)
    start = captum_views.explain_qa(question, context, "start", "Integrated Gradients")
    end = captum_views.explain_qa(question, context, "end", "Occlusion")
    assert start.attribution.target == end.attribution.target == shown.nbest[0].text
    assert "start logit" in start.explained and "end logit" in end.explained
    assert start.delta is not None and end.delta is None
    assert {w for w, _ in start.attribution.top(3)} & {"William", "Shakespeare", "by", "written"}


def test_neuron_view_recomputes_the_heads_attention_from_its_query_and_key_vectors():
    """Issue 17, item 2: q, k, q*k and the softmax of the scaled scores reproduce the attention row the model
    itself returns, for a single text and for a QA sentence pair."""
    from models.inside import neurons

    for text, choice, layer, head, query in (("The cat sat on the mat because it was tired.", MLM, 2, 3, 8),
                                             ("Who wrote it? [SEP] Shakespeare wrote it.", "qa: embedded-squad", 5, 0, 2)):
        v = neurons.neuron_view(text, choice, layer, head, query)
        att = attention.attention(text, choice).attentions[layer, head, query]
        np.testing.assert_allclose(v.weights, att, atol=1e-5)
        d = v.q.shape[0]
        np.testing.assert_allclose(v.product.sum(-1) / np.sqrt(d), v.scores, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(v.product, v.q[None] * v.k, rtol=1e-6)
        assert v.k.shape == (len(v.tokens), d) and v.weights.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InputError, match="Layer 99 does not exist"):
        neurons.neuron_view("The cat.", MLM, 98, 0, 1)
    with pytest.raises(InputError, match="Head 13 does not exist"):
        neurons.neuron_view("The cat.", MLM, 0, 12, 1)
    with pytest.raises(InputError, match="Query token 40 does not exist"):
        neurons.neuron_view("The cat.", MLM, 0, 0, 40)


def test_figures_export_as_png_and_svg():
    """Issue 17, item 5: the neuron view's and the CKA plot's figures download as PNG and SVG."""
    from tabs.inside import attention, compare

    notes, fig, table, files = attention.show_neurons("The cat sat on the mat.", MLM, 1, 1, 2)
    assert [f.rsplit(".", 1)[1] for f in files] == ["png", "svg"]
    assert open(files[0], "rb").read(8) == b"\x89PNG\r\n\x1a\n" and "<svg" in open(files[1], encoding="utf-8").read()
    assert list(table.columns) == ["position", "key token", "q·k", "score q·k/√d", "attention"]
    notes, fig, diff, files = compare.show_comparison("Paris is the [MASK] of France.\nThe cat sat on the mat.", MLM,
                                                     "fill-mask: embedded-movies")
    assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "png", "svg"]
    rows = open(files[0], encoding="utf-8").read().splitlines()
    assert rows[0].startswith(",embeddings,B layer 1,") and rows[-1].startswith("A layer 6,") and len(rows) == 8


def test_corpus_search_finds_a_corpus_sentences_own_token_first_and_guards_its_inputs():
    """Issue 17, item 4: searching with a sentence of the corpus itself finds that very token first (cosine 1)
    at every layer; a river 'bank' at a middle layer finds places, and a masked LM says what it predicts there."""
    from models.inside import corpus_search

    source, sentence = corpus_search.corpus_sentences()[5]
    for layer in (0, 3, 6):
        res = corpus_search.search(sentence, MLM, 2, layer, 3)
        first = res.neighbours[0]
        assert first.similarity == pytest.approx(1.0, abs=2e-3) and first.source == source
        assert first.token == res.tokens[2] and f"[[{first.token}]]" in first.context
    res = corpus_search.search("We sat on the river bank.", MLM, 6, 3, 10)
    assert res.tokens[6] == "bank" and res.corpus_tokens > 5000
    assert [n.similarity for n in res.neighbours] == sorted((n.similarity for n in res.neighbours), reverse=True)
    assert all(n.predicted for n in res.neighbours)  # a masked LM: its prediction at each match
    tagger = corpus_search.search("Angela Merkel visited Paris.", "tagging: embedded-ner", 1, 4, 5)
    assert all(n.predicted is None for n in tagger.neighbours)
    corpus_search.search("Angela Merkel visited Paris.", "tagging: embedded-upos", 1, 4, 5)
    # the indexes live in the model store, counted against its memory budget like the models they come from
    from models.loading import MODEL_CACHE

    assert MODEL_CACHE.is_loaded(corpus_search.index_key("tagging: embedded-upos"))
    index = corpus_search.get_index("tagging: embedded-upos")
    assert MODEL_CACHE.evictable_bytes() >= sum(a.nbytes for a in vars(index).values() if hasattr(a, "nbytes"))
    with pytest.raises(InputError, match="Layer 9 does not exist"):
        corpus_search.search("A cat.", MLM, 1, 9, 5)
    with pytest.raises(InputError, match="Token 30 does not exist"):
        corpus_search.search("A cat.", MLM, 30, 1, 5)
    with pytest.raises(InputError, match="between 1 and 50"):
        corpus_search.search("A cat.", MLM, 1, 1, 0)


def test_transformer_factors_view_matches_what_the_recipe_stored():
    """Issue 17, item 3: the shipped dictionary codes a corpus sentence at a layer as the recipe did: the top
    context of a factor, recoded by the view, shows that factor with about the stored activation."""
    from models.inside import corpus_search, factors

    f = factors.factors()
    n_factors, n_layers = f.importance.shape
    assert f.dictionary.shape == (n_factors, 384) and n_layers == 7 and f.meta["model"] == MLM
    layer = 4
    factor = int(np.argmax(f.top_activations[:, layer, 0]))
    s, p = (int(x) for x in f.top_contexts[factor, layer, 0])
    sentence = corpus_search.corpus_sentences()[s][1]
    res = factors.token_factors(sentence, layer, k=5)
    got = dict(res.top[p])
    assert factor in got and got[factor] == pytest.approx(float(f.top_activations[factor, layer, 0]), rel=0.1)
    detail = factors.factor_detail(factor)
    assert len(detail.importance) == n_layers and detail.contexts and all("[[" in c["context"] for c in detail.contexts)
    assert detail.contexts[0]["activation"] > 0
    with pytest.raises(InputError, match="Layer 9 does not exist"):
        factors.token_factors("A cat.", 9)
    with pytest.raises(InputError, match="Factor 9999 does not exist"):
        factors.factor_detail(9999)


def test_captum_explains_one_entity_of_the_tagging_tab():
    """Issue 17, item 1 (NER per entity): the entity the tab finds, explained over every word of the text."""
    from models.inside import captum_views

    text = "Angela Merkel met Emmanuel Macron in Berlin on Tuesday."
    shown = tagging.predict(text, "embedded-ner")
    r = captum_views.explain_entity(text, 2, "Integrated Gradients")
    ent = shown.entities[1]
    assert r.attribution.target == f"{ent.text} ({ent.label})" and r.delta < 0.1
    assert [w for w, s in r.attribution.spans if s is not None] == [w.word for w in shown.words]
    assert r.attribution.top(1)[0][0] in ent.text.split()  # its own words carry it most
    with pytest.raises(InputError, match="Entity 9 does not exist"):
        captum_views.explain_entity(text, 9, "Occlusion")
    with pytest.raises(InputError, match="finds no entity"):
        captum_views.explain_entity("the cat sat on the mat.", 1, "Occlusion")


def test_batch_mode_classifies_explains_and_aggregates_a_labelled_file(tmp_path):
    """Issue 17, item 7: every row gets the tab's label and its deciding words; accuracy per label counts only
    labelled rows; 0/1 labels read as negative/positive; the most influential words are summed over the file."""
    from models.inside import batch

    f = tmp_path / "reviews.csv"
    f.write_text("text,label\n\"A wonderful, moving film.\",1\nTerrible and boring.,0\n"
                 "\"Great acting, great story.\",positive\nAn awful waste of time.,negative\nIt is a film.,\n")
    res = batch.run_batch(str(f), "embedded-general")
    assert [r["label"] for r in res.rows] == ["positive", "negative", "positive", "negative", ""]
    assert res.rows[-1]["correct"] is None and all(r["predicted"] in ("negative", "positive") for r in res.rows)
    for r in res.rows[:4]:  # the label the prompt tab predicts for the same text
        assert r["predicted"] == prompt_cls_predict(r["text"])
    total = next(d for d in res.per_label if d["label"] == "all")
    assert total["rows"] == 4 and total["accuracy"] == sum(bool(r["correct"]) for r in res.rows[:4]) / 4
    assert {d["label"] for d in res.per_label} == {"negative", "positive", "all"}
    assert res.influential and all(d["rows"] >= 1 for d in res.influential)
    film = next(d for d in res.influential if d["word"] == "film")  # "film." and "film": one word, two rows
    assert film["rows"] == 2 and film["mean"] == pytest.approx(film["total"] / 2, abs=1e-3)
    sample = batch.run_batch(None, "embedded-general")
    assert len(sample.rows) == batch.SAMPLE_ROWS and "built-in SST-2 sample" in sample.notices[0]
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(InputError):
        batch.run_batch(str(empty), "embedded-general")


def test_batch_mode_tags_entities_and_scores_them_per_type(tmp_path):
    """Entities: the tagging tab's entities per row, the most confident one explained, precision / recall / F1
    per type against gold written as 'PER: John Smith; LOC: Paris'; the sample carries CoNLL's own gold."""
    from models import tagging
    from models.inside import batch

    f = tmp_path / "ner.tsv"
    f.write_text("text\tlabel\nAngela Merkel met Emmanuel Macron in Berlin.\tPER: Angela Merkel; PER: Emmanuel Macron; "
                 "LOC: Berlin\nThe cat sat on the mat.\t\n")
    res = batch.run_batch(str(f), task="entities")
    first, second = res.rows
    shown = tagging.predict(first["text"], "embedded-ner")
    assert first["entities"] == "; ".join(f"{e.label}: {e.text}" for e in shown.entities)
    assert first["explained"] and first["supports"] and second["correct"] is None and second["entities"] == ""
    per = {d["label"]: d for d in res.per_label}
    assert per["all"]["gold"] == 3 and per["PER"]["gold"] == 2 and per["LOC"]["gold"] == 1
    tp = sum(e in {("PER", "Angela Merkel"), ("PER", "Emmanuel Macron"), ("LOC", "Berlin")}
             for e in {(e.label, e.text) for e in shown.entities})
    assert per["all"]["recall"] == round(tp / 3, 4)
    assert batch.entities_of(["John", "Smith", "went", "to", "New", "York"],
                             ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC"]) == {("PER", "John Smith"), ("LOC", "New York")}
    with pytest.raises(InputError, match="PER: John Smith"):
        batch.parse_entities("Angela Merkel")
    sample = batch.run_batch(None, task="entities")
    assert len(sample.rows) == batch.SAMPLE_ROWS // 2 and per_type_f1(sample) > 0.5  # real gold, a real tagger


def per_type_f1(res) -> float:
    return next(d for d in res.per_label if d["label"] == "all")["f1"]


def test_batch_mode_answers_questions_with_squad_scores(tmp_path):
    from models import qa
    from models.inside import batch

    f = tmp_path / "qa.csv"
    f.write_text("question,context,answer\nWho wrote Hamlet?,Hamlet is a tragedy written by William Shakespeare."
                 ",William Shakespeare | Shakespeare\nWhat colour is the sky?,The sky is blue on clear days.,green\n")
    res = batch.run_batch(str(f), task="qa")
    assert res.rows[0]["answer"] == qa.predict("Who wrote Hamlet?", "Hamlet is a tragedy written by William "
                                               "Shakespeare.").answer.text
    assert res.rows[0]["exact_match"] == 100.0 and res.rows[1]["exact_match"] == 0.0
    assert res.per_label == [{"label": "all", "rows": 2, "exact_match": 50.0,
                              "f1": round((100.0 + res.rows[1]["f1"]) / 2, 2)}]
    bad = tmp_path / "bad.csv"
    bad.write_text("text\nno question here\n")
    with pytest.raises(InputError, match="'question' and 'context'"):
        batch.run_batch(str(bad), task="qa")
    with pytest.raises(InputError, match="Unknown batch task"):
        batch.run_batch(None, task="poetry")


def prompt_cls_predict(text: str) -> str:
    from models import prompt_cls

    return prompt_cls.predict(text, prompt_cls_spec(), "cloze", "embedded-general").label


def prompt_cls_spec():
    from models import prompt_cls

    return prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])


def test_every_view_offers_its_tables_and_figures_as_downloads():
    """Issue 17, item 5: tables as CSV + JSON, figures as PNG + SVG, one click each, holding what the view shows."""
    import json

    import pandas as pd

    from tabs.inside import attribution, factors, projector

    def check(files, table=None):
        kinds = {f.rsplit(".", 1)[1] for f in files}
        for f in files:
            data = open(f, "rb").read()
            if f.endswith(".png"):
                assert data[:8] == b"\x89PNG\r\n\x1a\n"
            elif f.endswith(".svg"):
                assert b"<svg" in data[:2000]
            elif f.endswith(".json") and table is not None:
                assert len(json.loads(data)) == len(table)
            elif f.endswith(".csv") and table is not None:
                assert list(pd.read_csv(f).columns) == [str(c) for c in table.columns]
        return kinds

    notes, a, b, files = attribution.explain_two_classification("A gorgeous, witty film.", "embedded-general", "Occlusion",
                                                        "LIME")
    assert check(files) == {"csv", "json"}
    scores = pd.read_csv(files[0])
    assert list(scores.columns) == ["word", "A: Occlusion", "B: LIME"]
    assert list(scores["word"]) == [w for w, s in a if s is not None]
    notes, table, first, files = factors.show_token_factors("The bank raised its rates.", 4)
    assert check(files, table) == {"csv", "json"}
    info, curve, contexts, files = factors.show_factor(first)
    assert check(files, contexts) == {"png", "svg", "csv", "json"}
    notes, points, table, proj, files = projector.show_projection("fill-mask: embedded-general", None, "PCA", "label")
    assert check(files, points) == {"csv", "json", "png", "svg"}


def test_the_attention_and_neuron_views_draw_the_input_the_tab_ran():
    """A view reads the model's own tab input: the fill-mask blank as the mask token, QA's first window at the
    length the QA tab reads (not the drawing limit), the tagger's words each encoded on their own."""
    from models import qa as qa_task, tagging
    from models.inside import neurons

    res = attention.attention("Paris is the <mask> of France.", MLM)
    assert res.tokens.count("[MASK]") == 1 and not any("<" in t for t in res.tokens)
    context = " ".join(["The Amazon rainforest covers much of Brazil and eight other countries."] * 40)
    long = attention.attention(f"Which country? [SEP] {context}", "qa: embedded-squad", max_tokens=2000)
    window = qa_task.load("embedded-squad").meta["max_len"]  # the recipe's window (256), not the view's 128
    assert len(long.tokens) == window and long.attentions.shape[-1] == window
    assert any("first of the" in n and "windows" in n for n in long.notices)
    tok = tagging.load("embedded-ner").tokenizer
    words = ["Angela", "Merkel", "visited", "Paris", "."]
    by_hand = [p for w in words for p in tok.tokenize(w)]
    tagged = attention.attention("Angela Merkel visited Paris.", "tagging: embedded-ner")
    assert tagged.tokens == [tok.cls_token] + by_hand + [tok.sep_token]
    view = neurons.neuron_view("Angela Merkel visited Paris.", "tagging: embedded-ner", 0, 0, 1)
    assert view.tokens == tagged.tokens
    with pytest.raises(InputError, match=r"question \[SEP\] context"):
        attention.attention("No separator here.", "qa: embedded-squad")


def test_batch_entity_gold_becomes_bio_over_the_taggers_words_and_a_missing_one_still_counts():
    """Batch mode scores entities with the evaluation CLI's scorer (seqeval over BIO tags): gold written as text
    is placed on the tagger's words; a gold entity the text does not hold is a gold entity the tagger missed."""
    from models import scoring, tagging
    from models.inside import batch

    text = "Angela Merkel met Emmanuel Macron in Berlin."
    words = tagging.predict(text, "embedded-ner").words
    gold = batch.gold_bio(text, words, {("PER", "Angela Merkel"), ("LOC", "Berlin"), ("ORG", "Siemens")})
    assert [w.word for w in words][:2] == ["Angela", "Merkel"] and gold[:2] == ["B-PER", "I-PER"]
    assert gold[[w.word for w in words].index("Berlin")] == "B-LOC" and gold[-1] == "B-ORG"
    assert len(gold) == len(words) + 1
    # by hand: prediction finds PER and LOC exactly, misses ORG -> precision 1, recall 2/3
    pred = [t if not t.endswith("ORG") else "O" for t in gold]
    every = scoring.entity_scores([gold], [pred])[-1]
    assert every["label"] == "all" and every["precision"] == 1.0 and every["recall"] == round(2 / 3, 4)


def test_every_view_reports_the_ids_and_windows_the_qa_and_tagging_tabs_ran():
    """A 300-token context through the QA tab: its trace holds the tokenizer's own overflowing windows (built
    here by hand, at the model's 256-token window), and the attention, neuron and attribution views report exactly those ids; the tagger's trace is its words' pieces, each word encoded on its own."""
    from models import qa as qa_task, tagging
    from models.inside import attribution, neurons

    m = qa_task.load("embedded-squad")
    question = "Which country has most of the rainforest?"
    context = " ".join(["The Amazon rainforest covers much of Brazil and eight other countries."] * 25)
    assert 290 <= len(m.tokenizer(context, add_special_tokens=False)["input_ids"]) <= 320
    size = m.meta["max_len"]
    by_hand = m.tokenizer(question, context, truncation="only_second", max_length=size, stride=size // 3,
                          return_overflowing_tokens=True)["input_ids"]
    ran = qa_task.predict(question, context, "embedded-squad").trace
    assert len(by_hand) == 2 and ran.windows == by_hand
    text, choice = f"{question} [SEP] {context}", "qa: embedded-squad"
    assert attention.attention(text, choice, max_tokens=1000).input_ids == by_hand[0]
    assert neurons.neuron_view(text, choice, 0, 0, 1).input_ids == by_hand[0]
    shown = attribution.shown_answer(question, context, "embedded-squad", 30)
    real = shown.batch["attention_mask"][0].bool()
    assert shown.batch["input_ids"][0][real].tolist() == by_hand[shown.answer.window]

    tok = tagging.load("embedded-ner").tokenizer
    words = ["Angela", "Merkel", "visited", "Paris", "."]
    pieces = [tok.cls_token_id] + [i for w in words for i in tok(w, add_special_tokens=False)["input_ids"]] + [tok.sep_token_id]
    assert tagging.predict("Angela Merkel visited Paris.", "embedded-ner").trace.windows == [pieces]
    assert attention.attention("Angela Merkel visited Paris.", "tagging: embedded-ner").input_ids == pieces
