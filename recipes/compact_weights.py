"""Store the shipped weight files compactly: int8 per row, as deltas on what they were fine-tuned from.

    python -m recipes.compact_weights            # rewrite the files below in place
    python -m recipes.compact_weights --check    # only report sizes and the reconstruction error

- The English task files (fill-mask general and movies, NER, QA) held the top MiniLM layers they trained in
  full (fp16): now int8 per-row deltas on the MiniLM encoder's own weights (`delta_of: encoder`), LoRA
  matrices and heads unchanged.
- The Chinese task files held a whole copy of the mini ChineseBERT they were tuned from: now int8 deltas on
  it (`delta_of: zh/...`).
- The two mini ChineseBERTs themselves: their matrices as int8 rows (no reference to be a delta on). The
  Chinese task deltas decode on the stored (int8) base, so their evaluations were re-run after it.
`embedded.read_adapter` rebuilds full tensors at load, so the loaders and every view are unchanged. Already
compact files are skipped, so running it twice changes nothing; to redo one, restore its full-precision
original from git history first. Evaluations before/after: RESULTS.md ("Storage").
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
# stored as int8 rows (no reference); first, because the Chinese deltas below are on them
STANDALONE = ["zh/chinesebert-mini-fused.safetensors", "zh/chinesebert-mini-char.safetensors"]
# file -> what it was fine-tuned from (a file under weights/, or the MiniLM encoder)
DELTA_FILES = {
    "zh/cmrc-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/weibo-ner-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/chnsenticorp-fused.safetensors": "zh/chinesebert-mini-fused.safetensors",
    "zh/chnsenticorp-char.safetensors": "zh/chinesebert-mini-char.safetensors",
    "mlm-general.safetensors": compact.ENCODER,
    "mlm-imdb.safetensors": compact.ENCODER,
    "ner-conll2003.safetensors": compact.ENCODER,
    "qa-squad.safetensors": compact.ENCODER,
}


def raw_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def compact_file(name: str, reference: str | None, check_only: bool) -> None:
    path = W / name
    state = load_file(str(path))
    if compact.is_compact(state):
        print(f"{name}: already compact, {path.stat().st_size / 1e6:.2f} MB")
        return
    ref = embedded.reference_state(reference, name) if reference is not None else None
    ref_name = compact.reference_name(reference)
    stored = compact.compact_state(state, ref, ref_name)
    back = compact.expand_state(stored, ref, ref_name)
    worst = max(float((back[k].float() - v.float()).norm() / v.float().norm().clamp_min(1e-12))
                for k, v in state.items() if v.is_floating_point())
    size = sum(t.numel() * t.element_size() for t in stored.values())
    print(f"{name}: {path.stat().st_size / 1e6:.2f} -> {size / 1e6:.2f} MB, worst relative error of a tensor {worst:.5f}")
    if check_only:
        return
    meta = raw_metadata(path)
    if reference is None:
        meta["storage"] = json.dumps("int8 per row, one fp16 scale per row (models/compact.py); vectors fp16")
    else:
        meta["delta_of"] = json.dumps(reference)
        meta["storage"] = json.dumps("int8 per-row deltas to delta_of (models/compact.py); the rest fp16")
    meta["compacted_by"] = json.dumps("python -m recipes.compact_weights")
    tmp = path.with_suffix(".tmp")
    save_file(stored, str(tmp), metadata=meta)
    tmp.replace(path)
    path.chmod(0o644)  # save_file writes 0600


def record_references() -> None:
    """weights/delta-references.json: each delta file's reference and the fingerprint of the reference
    tensors its deltas are on (checked at load)."""
    table = {}
    for name, reference in DELTA_FILES.items():
        stored = load_file(str(W / name))
        table[name] = {"delta_of": reference, "fingerprint": compact.fingerprint(
            stored, embedded.reference_state(reference, name), compact.reference_name(reference))}
    (W / compact.REFERENCES).write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="report only; write nothing")
    args = ap.parse_args(argv)
    with torch.no_grad():
        for name in STANDALONE:
            compact_file(name, None, args.check)
        for name, reference in DELTA_FILES.items():
            compact_file(name, reference, args.check)
    if not args.check:
        record_references()


if __name__ == "__main__":
    main()
