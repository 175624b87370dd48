"""The app as users and client programs see it: built in-process, and served for real."""
import json

import pytest

import app


def test_app_builds_one_tab_per_module():
    demo = app.build_app()
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"fill_mask", "fill_mask_compare", "answer", "tag", "classify"} <= names


def test_the_queue_bounds_waiting_and_recomputes_its_request_metrics_rarely():
    """Issue 29: a full queue refuses at once (tests/test_busy.py serves that); Gradio's per-event rebuild of
    its request metrics (a table of up to 10,000 events) runs every 100 events, not after each."""
    queue = app.build_app()._queue
    assert queue.max_size == app.QUEUE_SIZE and queue.ANAYLTICS_CACHE_FREQUENCY >= 100


def test_the_served_app_keeps_a_bounded_number_of_visitor_sessions():
    """Each visitor's session holds a copy of the page config (~0.67 MB): python app.py keeps at most
    SESSION_CAPACITY of them (Gradio's default, 10,000, would be ~6.7 GB)."""
    seen = {}

    class Demo:
        def launch(self, **kw):
            seen.update(kw)

        def block_thread(self):
            pass

    app.launch(Demo(), app.parse_args(["--port", "7999"]))
    assert seen["state_session_capacity"] == app.SESSION_CAPACITY <= 2000
    assert seen["max_threads"] == app.MAX_THREADS >= 64  # 64 waiting visitors are all in progress at once


def test_every_public_endpoint_and_output_has_a_meaningful_name():
    """Issue 12, defect 7: outputs showed as value_15 and /layer_plot, /layer_plot_1 were public no-input
    duplicates."""
    info = app.build_app().get_api_info()
    assert not info.get("unnamed_endpoints")
    for name, ep in info["named_endpoints"].items():
        assert ep["parameters"], f"{name} has no inputs"
        assert "layer_plot" not in name
        labels = [p["label"] for p in ep["parameters"]] + [r["label"] for r in ep["returns"]]
        assert all(lab and not lab.startswith("value_") for lab in labels), (name, labels)


@pytest.mark.parametrize("module", app.TABS, ids=lambda m: m.TITLE)
def test_every_tab_example_runs(module):
    """The first example of every tab, through the tab's own handler, gives a non-empty result."""
    from tabs import chinesebert, fill_mask, inside, lab, prompt_cls, qa, tagging

    if module is fill_mask:
        notes, filled, label, table, raw = fill_mask.predict(*module.EXAMPLES[0])
        assert label and "[MASK]" not in filled
    elif module is qa:
        notes, highlighted, table, frame, raw = qa.answer(*module.EXAMPLES[0], 5, 30, 0.0)
        marked = [t for t, lab in highlighted if lab == "answer"]
        assert raw["nbest"] and len(frame) and marked == [raw["answer"]["text"]]
        no_answer = qa.answer("Who won the football World Cup in 2030?", qa.AMAZON, "embedded-squad", 5, 30, 0.0)[1]
        assert all(lab is None for _, lab in no_answer) and "".join(t for t, _ in no_answer) == qa.AMAZON
    elif module is tagging:
        text, task = module.EXAMPLES[0]
        notes, highlighted, table, raw = tagging.tag(text, task, tagging.TASK_MODELS[task], "first")
        assert highlighted["entities"] and len(table) == len(raw["words"])
    elif module is prompt_cls:
        text, preset, backend = module.EXAMPLES[0]
        template, verb, model = prompt_cls.load_preset(preset)
        assert model == "embedded-movies"  # the movie preset reads with the movie-review MLM
        notes, scores, prompt, words, raw = prompt_cls.classify(text, template, verb, backend, model,
                                                                False, prompt_cls.FEW_SHOT_DEFAULT, False, None)
        assert set(scores) == {"negative", "positive"} and "[MASK]" in prompt
    elif module is chinesebert:
        notes, sheet, table, raw = chinesebert.inspect(module.EXAMPLES[0][0], "zh-fused")
        assert list(table["char"]) == list(module.EXAMPLES[0][0])
        long = "他去银行取钱，然后在河边行走。"  # 15 characters: every one on the glyph sheet, 6 per row
        sheet = chinesebert.inspect(long, "zh-fused")[1]
        # 3 rows of 6 tiles, each tile three 48-px glyphs (144 px) with 10 px padding and a caption line
        assert sheet.size == (6 * (144 + 2 * 10), 3 * (48 + 26 + 10))
        assert set(chinesebert.sentiment(module.EXAMPLES[2][0], "zh-fused")) == {"negative", "positive"}
    elif module is inside:
        notes, view, path = inside.attention.show_attention("The cat sat on the mat.",
                                                            inside.attention.model_choices()[0])
        assert view.startswith("<iframe") and path.endswith(".json")
        notes, table, curve, files = inside.attention.show_logit_lens("Paris is the [MASK] of France.", "embedded-general")
        assert len(table) == 7 and set(curve["layer"]) == set(range(7))
        assert [f.rsplit(".", 1)[1] for f in files] == ["csv", "json", "png", "svg"]
    elif module is lab:  # no examples: its defaults, on a small slice, one cheap strategy
        *_, last = lab.train_live("sst2", None, 32, 5, 0, ["frozen-top"], True, None)
        status, loss, dev, table, pareto, mix, curve, files, run_id = last
        assert "Learning curve" in curve.axes[0].get_title()
        assert list(curve.axes[0].lines[0].get_xdata()) == [16, 32]  # the 16-row rerun, then the run itself
        assert list(table["strategy"]) == ["frozen-top"] and 0 <= table["dev_accuracy"][0] <= 1
        assert {f.rsplit(".", 1)[1] for f in files} == {"csv", "json", "png", "safetensors"}
        assert list(lab.classify("A fine film.", run_id)["strategy"]) == ["frozen-top"]
    else:
        raise AssertionError(f"no example check for tab {module.TITLE}")


def test_prompt_tab_finetune_is_per_session_and_used_by_classify():
    from tabs import prompt_cls as tab

    template, verb, _ = tab.load_preset(tab.DEFAULT_PRESET)
    tuned, status = tab.finetune(template, verb, "cloze", "embedded-general", tab.FEW_SHOT_DEFAULT, 2)
    assert tuned is not None and "Tuned" in status
    _, _, _, _, raw = tab.classify("fun", template, verb, "cloze", "embedded-general", False,
                                   tab.FEW_SHOT_DEFAULT, False, tuned)
    assert "prompt-tuned" in raw["model"]


def test_tab_handler_formats_a_result():
    from tabs import fill_mask as tab

    notes, filled, label, table, raw = tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)
    assert "[MASK]" not in filled and len(label) == 5
    assert list(table.columns) == ["mask", "rank", "word", "probability"] and len(table) == 5
    assert raw["model"] == "embedded-general"


def test_tab_turns_bad_input_into_a_ui_error(monkeypatch):
    import gradio as gr
    from models import loading
    from tabs import fill_mask as tab

    with pytest.raises(gr.Error, match="No mask"):
        tab.predict("nothing to fill", "embedded-general", 5)
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(gr.Error, match="Hub cannot be reached"):
        tab.predict("a [MASK]", "roberta-base", 5)


def test_share_without_network_keeps_serving(monkeypatch, capsys):
    """--share where no tunnel can be set up: a clear line, and the local server still runs."""
    calls = []

    class FakeDemo:
        share_url = None
        is_running = False

        def launch(self, share=False, **kw):
            calls.append(share)
            if share:
                raise RuntimeError("frpc binary missing")
            self.is_running = True

        def block_thread(self):
            calls.append("blocked")

    args = app.parse_args(["--share", "--port", "7999"])
    app.launch(FakeDemo(), args)
    assert calls == [True, False, "blocked"]
    assert "keeps serving locally" in capsys.readouterr().err

    class ChattyDemo(FakeDemo):  # Gradio's real behaviour offline: no exception, an 8-line frpc message
        def launch(self, share=False, **kw):
            calls.append(share)
            print("\n".join(["Could not create share link. Missing file: frpc_linux_amd64_v0.3."] + ["..."] * 7))
            self.is_running = True

    calls.clear()
    app.launch(ChattyDemo(), args)
    out = capsys.readouterr()
    assert calls == [True, "blocked"] and "frpc" not in out.out + out.err
    assert out.err.strip().count("\n") == 0 and "keeps serving locally" in out.err  # one line


def test_served_app_answers_through_gradio_client(app_url):
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    notes, filled, label, table, raw = client.predict(
        "Paris is the [MASK] of France.", "embedded-general", 5, api_name="/fill_mask")
    assert raw["predictions"][0]["candidates"][0]["token"] in filled
    assert label["label"] == raw["predictions"][0]["candidates"][0]["token"]

    with pytest.raises(Exception, match="No mask"):
        client.predict("no mask at all", "embedded-general", 5, api_name="/fill_mask")
    # the app keeps serving after an error
    _, filled2, *_ = client.predict("This is a great [MASK].", "embedded-movies", 3, api_name="/fill_mask")
    assert "[MASK]" not in filled2

    *_, raw = client.predict("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600.",
                             "embedded-squad", 5, 30, 0.0, api_name="/answer")
    assert "Shakespeare" in raw["answer"]["text"]
    *_, raw = client.predict("Angela Merkel visited Paris.", "Named entities", "embedded-ner", "first",
                             api_name="/tag")
    assert raw["entities"]
    verbalizer = {"headers": ["label", "words"], "data": [["negative", "terrible"], ["positive", "great"]]}
    few_shot = {"headers": ["text", "label"], "data": [["", ""]]}
    *_, raw = client.predict("a gorgeous, witty, seductive movie.", "{text} It was {mask}.", verbalizer, "cloze",
                             "embedded-general", True, few_shot, False, api_name="/classify")
    assert set(raw["scores"]) == {"negative", "positive"} and raw["calibrated"] is True


def test_served_app_new_tabs_through_gradio_client(app_url):
    """The README's API examples for the ChineseBERT and Look-inside tabs."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    notes, glyphs, table, raw = client.predict("他去银行取钱，然后在河边行走。", "zh-fused",
                                               api_name="/chinesebert_inspect")
    readings = {c["char"]: c["pinyin"] for c in raw["chars"]}
    assert readings["银"] == "yin2" and [c["pinyin"] for c in raw["chars"] if c["char"] == "行"] == ["hang2", "xing2"]
    top = client.predict("我喜欢[MASK]。", "zh-fused", api_name="/chinesebert_fill")
    assert len(top["data"]) == 5
    sentiment = client.predict("这家酒店的服务很好，下次还会再来。", "zh-fused", api_name="/chinesebert_sentiment")
    assert {c["label"] for c in sentiment["confidences"]} == {"negative", "positive"}
    notes, view, path = client.predict("The cat sat on the mat.", "fill-mask: embedded-general",
                                       api_name="/inside_attention")
    assert "<iframe" in view and path.endswith(".json")
    message = client.predict("embedded-upos", None, "1-1, 2-2", api_name="/inside_prune")
    assert "with 2 head(s) pruned" in message
    with pytest.raises(Exception, match=r"every head of layer\(s\) 1;"):
        client.predict("embedded-upos", None, ", ".join(f"1-{h}" for h in range(1, 13)), api_name="/inside_prune")


def test_hub_only_choices_are_marked_offline(monkeypatch):
    """Issue 12, defect 10: the 苏轼 QA example and the nli backend were offered offline and always failed."""
    from models import loading

    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)
    config = app.build_app().config
    radios = [c["props"] for c in config["components"] if c["props"].get("label") == "Backend"]
    assert ["nli (needs the Hub: unreachable here)", "nli"] in [list(ch) for ch in radios[0]["choices"]]
    texts = json.dumps(config["components"], ensure_ascii=False, default=str)
    assert "文学家与政治家" not in texts  # the Hub model's 苏轼 example is not among the offered examples
    assert "号东坡居士" in texts  # the embedded zh-cmrc one is
    assert "use Hub models; the Hub cannot be reached" in texts
