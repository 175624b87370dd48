"""Compact weight files: int8 per row, as deltas on a shared reference where there is one, decoded by the one
reader (embedded.read_adapter)."""
import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from models import compact, embedded
from models.errors import WeightsError

W = embedded.WEIGHTS_DIR


def test_a_delta_round_trip_is_within_half_a_step_per_row():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(64, 300, generator=g)
    value = ref + 0.05 * torch.randn(64, 300, generator=g)
    stored = compact.compact_state({"w": value, "b": torch.randn(300, generator=g)}, {"w": ref})
    assert stored["w#q8"].dtype == torch.int8 and "b" in stored  # the 1-D tensor stays plain (fp16)
    back = compact.expand_state(stored, {"w": ref})["w"].float()
    step = (value - ref).abs().amax(dim=1, keepdim=True) / 127  # by hand: one int8 step of each row's delta
    assert ((back - value).abs() <= step / 2 + 2e-3).all()  # + fp16 rounding of the decoded weight


def test_without_a_reference_matrices_are_int8_rows_unless_that_loses_too_much():
    g = torch.Generator().manual_seed(0)
    plain = torch.randn(64, 300, generator=g)
    outliers = torch.randn(64, 300, generator=g)
    outliers[:, :3] *= 60  # a few huge columns: every row's int8 steps become coarse for the rest
    stored = compact.compact_state({"plain": plain, "outliers": outliers}, None)
    assert stored["plain#q8"].dtype == torch.int8
    assert stored["outliers"].dtype == torch.float16 and "outliers#q8" not in stored
    back = compact.expand_state(stored, None)["plain"].float()
    step = plain.abs().amax(dim=1, keepdim=True) / 127
    assert ((back - plain).abs() <= step / 2 + 2e-3).all()


def test_every_delta_file_is_recorded_with_the_fingerprint_of_its_reference():
    table = json.loads((W / compact.REFERENCES).read_text())
    delta_files = []
    for path in W.rglob("*.safetensors"):
        with safe_open(str(path), framework="pt") as f:
            if "delta_of" in (f.metadata() or {}):
                delta_files.append(path.relative_to(W).as_posix())
    assert delta_files and sorted(delta_files) == sorted(table)
    for name, entry in table.items():
        from safetensors.torch import load_file

        ref = embedded.reference_state(entry["delta_of"], name)
        got = compact.fingerprint(load_file(str(W / name)), ref, compact.reference_name(entry["delta_of"]))
        assert got == entry["fingerprint"], name


def test_an_english_file_decodes_to_minilm_layers_that_fine_tuning_moved():
    state, meta = embedded.read_adapter(W / "mlm-general.safetensors")
    assert meta["delta_of"] == compact.ENCODER
    minilm = embedded.load_encoder_state(embedded.encoder_path())
    k = "base_model.model.bert.encoder.layer.5.output.dense.base_layer.weight"
    ref = minilm["encoder.layer.5.output.dense.weight"]
    assert state[k].shape == ref.shape and not torch.equal(state[k].float(), ref)
    # by hand: the stored int8 delta times its row scale, added to MiniLM's weight
    from safetensors.torch import load_file

    raw = load_file(str(W / "mlm-general.safetensors"))
    by_hand = ref + raw[k + "#q8"].float() * raw[k + "#scale"].float()[:, None]
    assert torch.allclose(state[k].float(), by_hand, atol=2e-3)


def test_the_reader_rebuilds_full_tensors_of_the_reference_shapes():
    state, meta = embedded.read_adapter(W / "zh/cmrc-fused.safetensors")
    ref, _ = embedded.read_adapter(W / meta["delta_of"])
    assert not any(k.endswith((compact.Q8, compact.SCALE)) for k in state)
    shared = [k for k in state if k in ref]
    assert len(shared) > 50 and all(state[k].shape == ref[k].shape for k in shared)
    # fine-tuning moved the encoder: the decoded weights are not the reference's
    k = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(state[k], ref[k])


def test_a_changed_reference_is_refused_at_load(tmp_path):
    root = tmp_path / "weights"
    (root / "zh").mkdir(parents=True)
    shutil.copy(W / compact.REFERENCES, root / compact.REFERENCES)
    shutil.copy(W / "zh/chnsenticorp-char.safetensors", root / "zh")
    base = embedded.read_adapter(W / "zh/chinesebert-mini-char.safetensors")[0]
    base = {k: (v + 1e-3 if v.is_floating_point() else v) for k, v in base.items()}  # "retrained"
    save_file(base, str(root / "zh/chinesebert-mini-char.safetensors"), metadata={"size": "{}", "fusion": "false"})
    orig = embedded.WEIGHTS_DIR
    try:
        embedded.WEIGHTS_DIR = root
        with pytest.raises(WeightsError, match="has changed since"):
            embedded.read_adapter(root / "zh/chnsenticorp-char.safetensors")
    finally:
        embedded.WEIGHTS_DIR = orig


def test_every_fused_chinese_model_shares_one_rendered_glyph_table():
    """Memory (issue 25): the masked LM, CMRC, Weibo and sentiment models hold one 38 MB glyph table."""
    from models import qa, tagging
    from models.chinese import mlm as chinese_mlm

    tables = [chinese_mlm.load("zh-fused").model, chinese_mlm.load_classifier("zh-fused")[0],
              qa.load("zh-cmrc").model, tagging.load("zh-weibo").model]
    ptrs = {m.bert.embeddings.glyph_embeddings.embedding.weight.data_ptr() for m in tables}
    assert len(ptrs) == 1
    w = tables[0].bert.embeddings.glyph_embeddings.embedding.weight
    assert not w.requires_grad and float(w.abs().sum()) > 0  # rendered, frozen
