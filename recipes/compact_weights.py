"""Store the Chinese task files as int8 deltas on the shipped mini ChineseBERT they were fine-tuned from.

    python -m recipes.compact_weights            # rewrite weights/zh/<task>.safetensors in place
    python -m recipes.compact_weights --check    # only report sizes and the reconstruction error

Each task file held the whole fine-tuned encoder (17-18 MB, fp16). Now it holds what fine-tuning changed:
int8 per-row deltas to its `delta_of` file plus the heads (models/compact.py); `embedded.read_adapter`
rebuilds the full tensors at load, so the loaders and every view are unchanged. Already compact files are
skipped, so running it twice changes nothing. Evaluations before/after: RESULTS.md ("Session 8").
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from models import compact, embedded

W = embedded.WEIGHTS_DIR
# task file -> the shipped file it was fine-tuned from (same architecture, same parameter names)
TASK_FILES = {
    "zh/cmrc-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/weibo-ner-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/chnsenticorp-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/chnsenticorp-char.safetensors": "zh/chinesebert-mini-char.safetensors",
}


def raw_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def compact_file(task: str, reference: str, check_only: bool) -> None:
    path = W / task
    meta = raw_metadata(path)
    if "delta_of" in meta:
        print(f"{task}: already compact (delta of {json.loads(meta['delta_of'])}), {path.stat().st_size / 1e6:.2f} MB")
        return
    state = load_file(str(path))
    ref, _ = embedded.read_adapter(W / reference)
    stored = compact.compact_state(state, ref)
    back = compact.expand_state(stored, ref)
    worst = max(float((back[k].float() - v.float()).norm() / v.float().norm().clamp_min(1e-12))
                for k, v in state.items() if v.is_floating_point())
    size = sum(t.numel() * t.element_size() for t in stored.values())
    print(f"{task}: {path.stat().st_size / 1e6:.2f} -> {size / 1e6:.2f} MB, worst relative error of a tensor {worst:.5f}")
    if check_only:
        return
    meta = {**meta, "delta_of": json.dumps(reference),
            "storage": json.dumps("int8 per-row deltas to delta_of (models/compact.py); heads fp16"),
            "compacted_by": json.dumps("python -m recipes.compact_weights")}
    tmp = path.with_suffix(".tmp")
    save_file(stored, str(tmp), metadata=meta)
    tmp.replace(path)
    path.chmod(0o644)  # save_file writes 0600


def record_references() -> None:
    """weights/delta-references.json: each compact file's reference and that file's sha256 (checked at load)."""
    table = {task: {"delta_of": ref, "sha256": compact.file_sha256(W / ref)} for task, ref in TASK_FILES.items()}
    (W / compact.REFERENCES).write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report only; write nothing")
    args = ap.parse_args(argv)
    with torch.no_grad():
        for task, reference in TASK_FILES.items():
            compact_file(task, reference, args.check)
    if not args.check:
        record_references()


if __name__ == "__main__":
    main()
