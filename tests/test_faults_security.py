"""Faults (Hub down, broken or missing weights, missing font, a model failing mid-request) give a clear
message and leave the other tabs working; security rules hold across the code base."""
import re
from pathlib import Path

import gradio as gr
import pytest

from models import embedded, fill_mask, loading
from models.loading import MODEL_CACHE

ROOT = Path(__file__).resolve().parent.parent
APP_CODE = [ROOT / "app.py", *sorted((ROOT / "models").rglob("*.py")), *sorted((ROOT / "tabs").glob("*.py"))]


def _other_tab_still_works():
    from tabs import tagging as tab

    _, highlighted, _, raw = tab.tag("Angela Merkel visited Paris.", "Named entities", "embedded-ner", "first")
    assert raw["entities"]


def test_hub_unreachable_is_a_clear_message_and_embedded_models_go_on(monkeypatch):
    from tabs import qa as tab

    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(gr.Error, match="Hub cannot be reached"):
        tab.answer("Who?", "Someone did it.", "distilbert-base-cased-distilled-squad", 5, 30, 0.0)
    _other_tab_still_works()


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated"])
def test_broken_weight_file_is_a_clear_message(tmp_path, monkeypatch, damage):
    from tabs import fill_mask as tab

    good = (embedded.WEIGHTS_DIR / "mlm-general.safetensors").read_bytes()
    if damage == "corrupt":
        (tmp_path / "mlm-general.safetensors").write_bytes(b"this is not a safetensors file" * 10)
    elif damage == "truncated":
        (tmp_path / "mlm-general.safetensors").write_bytes(good[:len(good) // 2])
    monkeypatch.setattr(embedded, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setattr(loading, "MODEL_CACHE", type(MODEL_CACHE)())  # a fresh process, as far as loading goes
    with pytest.raises(gr.Error, match=r"mlm-general.safetensors is (missing|damaged).*git checkout weights/"):
        tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)
    monkeypatch.undo()
    _other_tab_still_works()


def test_missing_font_is_a_clear_message_in_the_chinese_tab(monkeypatch):
    from models.chinese import glyphs
    from tabs import chinesebert as tab

    from models.errors import ModelUnavailable

    def no_kai():
        raise ModelUnavailable("Kai font missing: apt-get install fonts-arphic-ukai (see packages.txt).")

    monkeypatch.setattr(glyphs, "font_paths", no_kai)
    with pytest.raises(gr.Error, match="Kai font missing"):
        tab.inspect("我喜欢猫", "zh-fused")
    _other_tab_still_works()


def test_a_model_failing_mid_request_is_reported_and_the_app_goes_on(monkeypatch):
    from tabs import fill_mask as tab

    lm = fill_mask.load("embedded-general")

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure inside the forward pass")

    monkeypatch.setattr(lm.model.base_model, "forward", explode)  # the encoder, which every path runs
    with pytest.raises(gr.Error, match="The model failed on this input .*simulated failure"):
        tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)
    monkeypatch.undo()
    _, filled, *_ = tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)  # the same model recovers
    assert "[MASK]" not in filled
    _other_tab_still_works()


def test_no_pickle_loading_and_no_remote_code_anywhere_in_the_app():
    for path in APP_CODE:
        code = path.read_text(encoding="utf-8")
        assert "import pickle" not in code and "pickle.load" not in code, path
        for call in re.findall(r"torch\.load\([^)]*\)", code):  # only the weights-only unpickler (no code can run)
            assert "weights_only=True" in call, f"{path.name}: {call}"
        assert not re.search(r"trust_remote_code\s*=\s*True", code), path
        for line in code.splitlines():  # every Hub model load asks for safetensors
            if re.search(r"from_hub\(\w+\.from_pretrained", line) and "Tokenizer" not in line:
                assert "use_safetensors=True" in line, f"{path.name}: {line.strip()}"


def test_share_is_off_by_default_and_uploads_are_limited(monkeypatch):
    import app

    monkeypatch.delenv("GRADIO_SHARE", raising=False)
    assert app.parse_args([]).share is False
    launched = {}

    class FakeDemo:
        def launch(self, **kwargs):
            launched.update(kwargs)

    app.launch(FakeDemo(), app.parse_args(["--port", "7999"]))
    assert launched["max_file_size"] == app.MAX_UPLOAD and "share" not in launched


def test_uploaded_table_cells_come_back_verbatim(tmp_path):
    """Cells are data: formulas, code, markup, NA-like and number-like strings are kept exactly as written
    (no NA conversion, no number parsing, no evaluation), in CSV and TSV alike."""
    from models.inside import projector

    cells = ['=HYPERLINK("http://x")', "__import__('os').system('x')", "<script>alert(1)</script>", "NA", "null",
             "1e5", "True", "  spaced  "]
    csv = tmp_path / "cells.csv"
    csv.write_text("text,label\n" + "".join(f'"{c.replace(chr(34), chr(34) * 2)}",{i}\n'
                                            for i, c in enumerate(cells)))
    tsv = tmp_path / "cells.tsv"
    tsv.write_text("text\tlabel\n" + "".join(f"{c}\t{i}\n" for i, c in enumerate(cells)))
    for path in (csv, tsv):
        texts, labels, _ = projector.read_table(path)
        assert texts == cells and labels == [str(i) for i in range(len(cells))], path.suffix


def test_a_path_typed_by_a_client_is_never_opened(app_url, tmp_path):
    """A client sending a server path instead of an upload is refused by Gradio before our code runs.

    Sent as raw HTTP: gradio_client would upload a path that exists on its own machine, which here is
    the server's, so it cannot show the refusal."""
    import httpx
    from gradio_client import Client, handle_file

    secret = tmp_path / "secret.conllu"
    secret.write_text((ROOT / "samples" / "ud-ewt-dev-100.conllu").read_text(encoding="utf-8"), encoding="utf-8")
    data = ["embedded-upos", {"path": str(secret), "meta": {"_type": "gradio.FileData"}}, "1-1"]
    event = httpx.post(app_url + "gradio_api/call/inside_prune", json={"data": data}).json()["event_id"]
    stream = httpx.get(app_url + f"gradio_api/call/inside_prune/{event}", timeout=60).text
    assert stream.startswith("event: error") and "pruned" not in stream
    log = (ROOT / "tests" / "app-under-test.log").read_text(encoding="utf-8")
    assert f"Cannot move {secret} to the gradio cache dir because it was not uploaded by a user" in log
    # the same file as a real upload is accepted: the refusal was about the path, not the file
    message = Client(app_url, verbose=False).predict("embedded-upos", handle_file(str(secret)), "1-1",
                                                     api_name="/inside_prune")
    assert "with 1 head(s) pruned" in message
    _other_tab_still_works()


def test_error_text_shows_exactly_as_written_and_user_errors_log_one_line(caplog):
    """Issue 12, defects 3 and 9: Gradio renders error messages as HTML, so "<mask>" vanished from the toast;
    and every user error printed a full chained traceback."""
    import html
    import logging

    from models.errors import InputError
    from tabs import fill_mask as tab
    from tabs.common import run_model

    with caplog.at_level(logging.INFO, logger="bert-demo"):
        with pytest.raises(gr.Error) as err:
            tab.predict("nothing to fill", "embedded-general", 5)
    shown = html.unescape(err.value.message)  # what the browser displays
    assert "Write [MASK] (or <mask>) where a word is missing" in shown
    assert err.value.print_exception is False and err.value.__cause__ is None
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is None
    caplog.clear()

    def bug():
        raise KeyError("a real bug")

    with caplog.at_level(logging.INFO, logger="bert-demo"), pytest.raises(gr.Error, match="KeyError"):
        run_model(bug)
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None  # real faults: one traceback
    with pytest.raises(gr.Error) as err:
        run_model(lambda: (_ for _ in ()).throw(InputError("x" * 1_000_000)))
    assert len(err.value.message) < 400  # a huge input is never echoed back whole
