"""Deploying as a Hugging Face Space (issue 25): LFS rules for every large file, and the deploy command's
dry run, which needs no network."""
import os
import subprocess
import sys

import pytest

from tools import deploy_space

ROOT = deploy_space.ROOT


def _tracked_sizes() -> dict[str, int]:
    return {p: (ROOT / p).stat().st_size for p in deploy_space._tracked_files() if (ROOT / p).is_file()}


def test_every_tracked_file_over_10_mb_is_stored_through_lfs():
    big = [p for p, size in _tracked_sizes().items() if size > deploy_space.LFS_LIMIT]
    assert big, "expected the shipped weights to include files over 10 MB"
    # git's own reading of .gitattributes, independent of the deploy tool
    out = subprocess.run(["git", "check-attr", "filter", "--", *big], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    not_lfs = [line for line in out if not line.endswith(": filter: lfs")]
    assert not not_lfs, not_lfs


def test_every_weight_format_goes_through_lfs_and_code_does_not():
    paths = ["weights/x.safetensors", "a/b.gguf", "m.bin", "t.npz", "f.otf", "app.py", "README.md"]
    lfs = deploy_space.lfs_files(paths)
    assert lfs == set(paths[:5])


def test_dry_run_works_offline_and_lists_every_weight_file():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_TOKEN": ""}
    run = subprocess.run([sys.executable, "-m", "tools.deploy_space", "someone/bert-demo", "--dry-run"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    weights = [p for p in _tracked_sizes() if p.startswith("weights/") and p.endswith(".safetensors")]
    lines = run.stdout.splitlines()
    for w in weights:
        assert any(line.endswith(w) and "LFS" in line for line in lines), w
    assert not any("tests/" in line or "benchmarks/" in line or "recipes/" in line for line in lines)
    assert "app.py" in run.stdout and "Dry run" in run.stdout


@pytest.mark.parametrize("args,message", [
    (["not a name"], "is not USER/SPACE"),
    (["someone/bad name!", "--dry-run"], "not a valid Space name"),
    (["someone/bert-demo"], "No Hugging Face token"),
])
def test_problems_are_one_clear_line_and_exit_1(args, message, tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_TOKEN": ""}
    env.pop("HUGGING_FACE_HUB_TOKEN", None)
    run = subprocess.run([sys.executable, "-m", "tools.deploy_space", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    assert message in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_no_network_with_a_token_is_one_clear_line(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path), "HF_TOKEN": "hf_not_a_real_token"}
    run = subprocess.run([sys.executable, "-m", "tools.deploy_space", "someone/bert-demo"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert "Could not reach the Hugging Face Hub" in run.stderr and "Traceback" not in run.stderr, run.stderr


def test_front_matter_must_match_the_pinned_gradio(monkeypatch):
    files = deploy_space.files_to_upload()
    assert deploy_space.check(files, deploy_space.lfs_files(files)) == []
    good = deploy_space.front_matter()
    monkeypatch.setattr(deploy_space, "front_matter", lambda: {**good, "sdk_version": "5.0.0", "sdk": "streamlit"})
    problems = deploy_space.check(files, deploy_space.lfs_files(files))
    assert any("sdk_version" in p for p in problems) and any("sdk is 'streamlit'" in p for p in problems)


def test_a_big_file_without_an_lfs_rule_is_a_problem(monkeypatch):
    monkeypatch.setattr(deploy_space, "LFS_LIMIT", 1000)  # every weight file is now "big"
    files = ["app.py", "README.md", "requirements.txt"]
    problems = deploy_space.check(files, set())
    assert any("app.py is over 10 MB" in p for p in problems)
