"""Faults (Hub down, broken or missing weights, missing font, a model failing mid-request) give a clear
message and leave the other tabs working; security rules hold across the code base."""
import re
from pathlib import Path

import gradio as gr
import pytest

from models import embedded, fill_mask, loading, tagging
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
    from models import glyphs
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

    monkeypatch.setattr(lm.model, "forward", explode)
    with pytest.raises(gr.Error, match="The model failed on this input .*simulated failure"):
        tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)
    monkeypatch.undo()
    _, filled, *_ = tab.predict("Paris is the [MASK] of France.", "embedded-general", 5)  # the same model recovers
    assert "[MASK]" not in filled
    _other_tab_still_works()


def test_no_pickle_loading_and_no_remote_code_anywhere_in_the_app():
    for path in APP_CODE:
        code = path.read_text(encoding="utf-8")
        assert "torch.load(" not in code and "import pickle" not in code, path
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


def test_uploaded_table_is_read_as_data_only(tmp_path):
    from models.inside import projector

    evil = tmp_path / "evil.csv"
    evil.write_text('text,label\n"=HYPERLINK(""http://x"")",1\n"__import__(\'os\').system(\'touch pwned\')",0\n'
                    '"<script>alert(1)</script>",1\n')
    texts, labels, _ = projector.read_table(evil)
    assert texts[1].startswith("__import__") and labels == ["1", "0", "1"]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_path_typed_by_a_client_is_never_opened(app_url):
    """gradio_client sending a server path instead of an upload: refused by Gradio, nothing read."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    with pytest.raises(Exception):
        client.predict("embedded-upos", {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
                       api_name="/inside_pruning")
    _other_tab_still_works()
