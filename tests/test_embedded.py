import pytest
import torch

from models import embedded
from models.errors import WeightsError


def test_missing_adapter_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsError, match="is missing"):
        embedded.read_adapter(tmp_path / "nope.safetensors")


def test_corrupt_adapter_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsError, match="damaged"):
        embedded.read_adapter(bad)


def test_adapter_round_trip_changes_the_model(tmp_path):
    """Saving then loading an adapter reproduces the trained model's outputs exactly (fp32)."""
    model, tok = embedded.build_masked_lm()
    peft_model = embedded.add_adapter(model, r=4, alpha=8)
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in peft_model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
    peft_model.eval()
    ids = tok("a short test sentence", return_tensors="pt")["input_ids"]
    want = peft_model(input_ids=ids).logits
    path = tmp_path / "a.safetensors"
    embedded.save_adapter(peft_model, path, {"task": "test"}, fp16=False)
    merged, _, meta = embedded.load_embedded(path)
    assert meta["task"] == "test" and meta["lora_r"] == 4
    got = merged(input_ids=ids).logits
    assert torch.allclose(want, got, atol=1e-4)
    fresh, _ = embedded.build_masked_lm()
    fresh.eval()
    assert not torch.allclose(fresh(input_ids=ids).logits, got, atol=1e-3)


def test_readme_gives_the_exact_command_of_every_shipped_file_that_records_one():
    """Issue 13: the README's training commands must reproduce the shipped files."""
    import re
    from pathlib import Path

    from models import embedded

    root = Path(__file__).resolve().parent.parent
    readme = re.sub(r"\s+", " ", (root / "README.md").read_text(encoding="utf-8").replace("\\\n", " "))
    recorded = 0
    for path in sorted((root / "weights").rglob("*.safetensors")):
        _, meta = embedded.read_adapter(path)
        if meta.get("command"):
            recorded += 1
            assert re.sub(r"\s+", " ", meta["command"]) in readme, path.name
    assert recorded >= 1


def test_embedded_models_hold_one_copy_of_the_frozen_minilm_tensors():
    """Issue 16 (memory): the MiniLM tensors no adapter changed (embeddings, LayerNorms, ...) are one storage
    shared by every embedded task model, not a copy each."""
    from models import fill_mask, qa, tagging

    mlm, reader, ner = fill_mask.load("embedded-movies"), qa.load("embedded-squad"), tagging.load("embedded-ner")
    ptr = {m.model.bert.embeddings.word_embeddings.weight.data_ptr() for m in (mlm, reader, ner)}
    assert len(ptr) == 1
    # what the adapters trained stays each model's own
    assert (reader.model.bert.encoder.layer[5].output.dense.weight.data_ptr()
            != ner.model.bert.encoder.layer[5].output.dense.weight.data_ptr())


def test_the_gpu_campaign_plan_is_what_made_the_shipped_english_files():
    """Issue 13: the lease campaign (tools/en_gpu_campaign.py) must run exactly the commands that the shipped
    embedded-general, embedded-movies and embedded-ner files record, so one lease reproduces them."""
    import shlex
    from pathlib import Path

    from tools import en_gpu_campaign as plan

    root = Path(__file__).resolve().parent.parent
    planned = {"mlm-general": ("train_mlm", plan.CONTINUED), "mlm-imdb": ("train_mlm", plan.MOVIES),
               "ner-conll2003": ("train_tagger", plan.NER["ner-top4-6ep"])}
    for name, (recipe, argv) in planned.items():
        _, meta = embedded.read_adapter(root / "weights" / f"{name}.safetensors")
        assert meta["command"] == f"python -m recipes.{recipe} " + shlex.join(argv), name
    # and the continued general model starts from the 30 % masking run of the same plan
    assert plan.CONTINUED[plan.CONTINUED.index("--init") + 1] == plan.GENERAL["mlm-general-mask0.3"][-1]
