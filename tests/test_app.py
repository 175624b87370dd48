"""The app as users and client programs see it: built in-process, and served for real."""
import pytest

import app


def test_app_builds_one_tab_per_module():
    demo = app.build_app()
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert "fill_mask" in names and "fill_mask_compare" in names


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
