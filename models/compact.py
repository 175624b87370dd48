"""Compact storage of shipped weights: what fine-tuning changed, as int8 deltas on a shared reference.

A fine-tuned task file used to hold a whole second copy of the encoder it started from (each Chinese task
file was a full 17-18 MB copy of the mini ChineseBERT). A compact file holds, for every tensor that also
exists in its reference, the difference to it quantised to int8 with one fp16 scale per row
(`name#q8`, `name#scale`), and every other tensor (heads, biases, LayerNorms) as it was. The file's
metadata names the reference (`delta_of`, a path under weights/). `embedded.read_adapter` decodes it, so
every loader keeps its one path and never sees the difference.

Why deltas and not the weights themselves in int8: a fine-tuning delta is small next to the weight it
changes, so int8 steps on the delta are far finer than int8 steps on the weight (measured in RESULTS.md).
"""
from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import torch

from models.errors import WeightsError

Q8, SCALE = "#q8", "#scale"
MIN_NUMEL = 4096  # small tensors (biases, LayerNorms, heads' bias) stay fp16: nothing to gain


def encode_delta(value: torch.Tensor, ref: torch.Tensor) -> dict[str, torch.Tensor]:
    """value - ref as int8 per row (symmetric, one fp16 scale per row of the last dimension)."""
    delta = (value.float() - ref.float()).reshape(value.shape[0], -1)
    scale = delta.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    q = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return {Q8: q.reshape(value.shape), SCALE: scale.half()}


def decode_delta(q: torch.Tensor, scale: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    rows = q.reshape(q.shape[0], -1).float() * scale.float()[:, None]
    return (ref.float() + rows.reshape(q.shape)).half()


def compact_state(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                  ref_name=lambda k: k) -> dict[str, torch.Tensor]:
    """The stored form of `state`: int8 deltas for tensors the reference has (same shape), fp16 for the rest.
    `ref_name` maps a key of `state` to the reference's name for the same tensor."""
    out = {}
    for k, v in state.items():
        ref = reference.get(ref_name(k))
        if ref is not None and ref.shape == v.shape and v.numel() >= MIN_NUMEL and v.dim() >= 2:
            for suffix, t in encode_delta(v, ref).items():
                out[k + suffix] = t.contiguous()
        else:
            out[k] = v.half().contiguous() if v.is_floating_point() else v.contiguous()
    return out


def expand_state(stored: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                 ref_name=lambda k: k) -> dict[str, torch.Tensor]:
    """The inverse of compact_state: every tensor at full shape (fp16)."""
    out = {}
    for k, v in stored.items():
        if k.endswith(SCALE):
            continue
        if k.endswith(Q8):
            name = k[: -len(Q8)]
            out[name] = decode_delta(v, stored[name + SCALE], reference[ref_name(name)])
        else:
            out[k] = v
    return out


# Which exact file each compact file's deltas are on (sha256), so a retrained reference (a recipe writing
# a new mini ChineseBERT over the old one) is caught at load instead of silently decoding wrong weights.
REFERENCES = "delta-references.json"  # beside the weights, in weights/


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime)


def weights_root(path: Path) -> Path:
    return next(p for p in [path.parent, *path.parents] if (p / REFERENCES).is_file() or p.name == "weights")


def check_reference(path: Path, reference: Path) -> None:
    root = weights_root(path)
    table = root / REFERENCES
    entry = json.loads(table.read_text()).get(path.relative_to(root).as_posix()) if table.is_file() else None
    if entry is None:
        return  # a file compacted outside weights/ (a recipe's own run): nothing recorded to check against
    if not reference.is_file():
        raise WeightsError(f"{path.name} is stored as changes to {entry['delta_of']}, which is missing; restore it "
                           f"with `git checkout weights/`.")
    if file_sha256(reference) != entry["sha256"]:
        raise WeightsError(f"{path.name} is stored as changes to {entry['delta_of']}, and that file has changed since "
                           f"(retrained?), so these weights would decode wrong. Restore it with `git checkout "
                           f"weights/`, or rebuild the task file from its full-precision original.")
