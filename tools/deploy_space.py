"""Publish this app as a Hugging Face Space: `bash dev.sh deploy USER/SPACE [--dry-run] [--private]`.

The dry run works offline: it lists every file that would go up (size, LFS or plain), checks the README
front matter a Space reads (sdk, sdk_version = the pinned gradio, app_file, python_version), that every
file over 10 MB is stored through LFS (.gitattributes), and the total size; it exits 1 with one line per
problem. The real run creates the Space (gradio SDK) and uploads the same files with huggingface_hub,
which sends the large ones through LFS itself. Every failure is one clear line, never a traceback.
"""
from __future__ import annotations

import argparse
import fnmatch
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LFS_LIMIT = 10 * 1000 * 1000  # the Hub refuses plain (non-LFS) files over 10 MB
MAX_TOTAL = 1 * 1000**3  # a Space repo of more than 1 GB is slow to clone and build; ours is ~0.2 GB

# What a Space needs to run the app, and nothing else (no tests, benchmarks, recipes, caches or data).
ALLOW = ["app.py", "README.md", "requirements.txt", "packages.txt", ".gitattributes",
         "tabs/**", "models/**", "weights/**", "samples/**"]
IGNORE = ["**/__pycache__/**", "**/*.pyc", "**/.pytest_cache/**", "**/.DS_Store", "**/*.log", "**/*.tmp"]


class DeployError(Exception):
    """A problem the user can fix; printed as one line."""


def _tracked_files() -> list[str]:
    """Files git tracks (so nothing untracked or ignored, like .venv or runs/, can go up)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def _matches(path: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path, p) or (p.startswith("**/") and fnmatch.fnmatch(path, p[3:]))
               for p in patterns)


def files_to_upload() -> list[str]:
    return sorted(p for p in _tracked_files()
                  if _matches(p, ALLOW) and not _matches(p, IGNORE) and (ROOT / p).is_file())


def lfs_files(paths: list[str]) -> set[str]:
    """The paths .gitattributes sends through LFS, as git itself reads the rules (`git check-attr`)."""
    if not paths:
        return set()
    out = subprocess.run(["git", "check-attr", "filter", "--stdin", "-z"], cwd=ROOT, input="\0".join(paths).encode(),
                         capture_output=True, check=True).stdout.decode().split("\0")
    # -z output: path, attribute, value, path, attribute, value, ...
    return {out[i] for i in range(0, len(out) - 2, 3) if out[i + 2] == "lfs"}


def front_matter(readme: Path = ROOT / "README.md") -> dict[str, str]:
    text = readme.read_text(encoding="utf-8")
    m = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not m:
        raise DeployError("README.md has no front matter (the --- block a Space reads its settings from).")
    out = {}
    for line in m.group(1).splitlines():
        if ":" in line and not line.startswith((" ", "-")):
            key, _, value = line.partition(":")
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def pinned_gradio(requirements: Path = ROOT / "requirements.txt") -> str | None:
    for line in requirements.read_text().splitlines():
        m = re.match(r"\s*gradio\s*==\s*([\w.]+)", line)
        if m:
            return m.group(1)
    return None


def check(files: list[str], lfs: set[str]) -> list[str]:
    """Every problem that would stop the Space from building or the Hub from taking the upload."""
    problems = []
    fm = front_matter()
    if fm.get("sdk") != "gradio":
        problems.append(f"README front matter: sdk is {fm.get('sdk')!r}, a Gradio Space needs 'gradio'.")
    want = pinned_gradio()
    if fm.get("sdk_version") != want:
        problems.append(f"README front matter: sdk_version {fm.get('sdk_version')!r} differs from the gradio pinned in "
                        f"requirements.txt ({want!r}); the Space would run another Gradio than the tests.")
    app_file = fm.get("app_file")
    if not app_file or app_file not in files:
        problems.append(f"README front matter: app_file {app_file!r} is not among the uploaded files.")
    if not re.fullmatch(r"3\.\d+", fm.get("python_version", "")):
        problems.append(f"README front matter: python_version {fm.get('python_version')!r} is not like \"3.11\".")
    for p in files:
        if (ROOT / p).stat().st_size > LFS_LIMIT and p not in lfs:
            problems.append(f"{p} is over 10 MB and no .gitattributes rule stores it through LFS; the Hub refuses it.")
    total = sum((ROOT / p).stat().st_size for p in files)
    if total > MAX_TOTAL:
        problems.append(f"The upload is {total / 1e6:,.0f} MB; keep a Space under {MAX_TOTAL / 1e6:,.0f} MB.")
    return problems


def validate_name(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_id.count("/") != 1:
        raise DeployError(f"'{repo_id}' is not USER/SPACE (for example someone/bert-demo).")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise DeployError(f"'{repo_id}' is not a valid Space name: {str(exc).splitlines()[0]}") from None


def token() -> str:
    """HF_TOKEN, else the login cached by `hf auth login` (huggingface_hub.get_token reads both)."""
    from huggingface_hub import get_token

    tok = get_token()
    if not tok:
        raise DeployError("No Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access).")
    return tok


def upload(repo_id: str, files: list[str], private: bool, tok: str) -> str:
    from huggingface_hub import create_repo, upload_folder
    from huggingface_hub.errors import HfHubHTTPError

    try:
        create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True, token=tok)
        upload_folder(folder_path=str(ROOT), repo_id=repo_id, repo_type="space", allow_patterns=files,
                      ignore_patterns=IGNORE, token=tok, commit_message="Deploy from bash dev.sh deploy")
    except HfHubHTTPError as exc:
        raise DeployError(f"The Hub refused the upload: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # no network, DNS, TLS (httpx errors are not OSErrors), offline mode
        raise DeployError(f"Could not reach the Hugging Face Hub ({type(exc).__name__}: {str(exc)[:200]}).") from None
    return f"https://huggingface.co/spaces/{repo_id}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bash dev.sh deploy", description=__doc__.splitlines()[0])
    ap.add_argument("space", help="USER/SPACE on the Hugging Face Hub")
    ap.add_argument("--dry-run", action="store_true", help="list and check what would go up; needs no network")
    ap.add_argument("--private", action="store_true", help="create the Space private")
    args = ap.parse_args(argv)
    try:
        validate_name(args.space)
        files = files_to_upload()
        lfs = lfs_files(files)
        total = 0
        for p in files:
            size = (ROOT / p).stat().st_size
            total += size
            print(f"{size / 1e6:9.2f} MB  {'LFS  ' if p in lfs else 'plain'}  {p}")
        print(f"{len(files)} files, {total / 1e6:.1f} MB in all, {len(lfs)} through LFS")
        problems = check(files, lfs)
        for p in problems:
            print(f"problem: {p}", file=sys.stderr)
        if problems:
            return 1
        if args.dry_run:
            print(f"Dry run: nothing uploaded. Without --dry-run this creates https://huggingface.co/spaces/{args.space}")
            return 0
        print(f"Space ready: {upload(args.space, files, args.private, token())} (it builds for a few minutes)")
        return 0
    except DeployError as exc:
        print(f"deploy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
