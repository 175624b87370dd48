"""The prompt tab's supervised backend: what the lab's recipe trains (word embeddings frozen, a warm-up and
decay schedule), what it stores (only what changed, as int8 deltas), and the shipped classifier read through
the prompt tab's one entry point."""
import json
import subprocess
import sys

import pytest
import torch

from models import compact, embedded, prompt_cls
from models.errors import InputError
from models.lab import data, supervised, train
from models.lab.model import minilm_encoder
from models.prompt import supervised as backend

SPEC = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])


@pytest.fixture(scope="module")
def trained():
    task = data.load_task("sst2", examples=96, seed=0, dev_size=40)
    lrs = []

    def prepare(run):
        supervised.freeze_and_schedule(run)
        lrs.append(run.optimiser.param_groups[0]["lr"])
        step = run.scheduler.step

        def record_lr():
            step()
            lrs.append(run.optimiser.param_groups[0]["lr"])
        run.scheduler.step = record_lr

    res = train.run("full", task, max_steps=34, prepare=prepare)
    return res, lrs


def test_the_recipe_freezes_the_word_embeddings_and_warms_up_then_decays(trained):
    res, lrs = trained
    base = minilm_encoder()[0].state_dict()["embeddings.word_embeddings.weight"]
    assert torch.equal(res.model.encoder.embeddings.word_embeddings.weight, base)
    assert not torch.equal(res.model.encoder.encoder.layer[5].output.dense.weight,
                           minilm_encoder()[0].encoder.layer[5].output.dense.weight)
    peak = max(lrs)
    assert peak == pytest.approx(5e-5, rel=1e-6) and lrs.index(peak) <= 2  # 6 % of 34 steps: 2 warm-up steps
    assert lrs[0] < peak and lrs[-1] < 0.1 * peak and all(a >= b for a, b in zip(lrs[2:], lrs[3:]))


def test_the_saved_classifier_stores_only_what_changed_and_reads_back_the_same(trained, tmp_path):
    from safetensors.torch import load_file

    res, _ = trained
    path = tmp_path / "sst2.safetensors"
    supervised.save(res.model, path, {"labels": ["negative", "positive"], "strategy": "full",
                                      "frozen": list(supervised.FROZEN)})
    stored = load_file(str(path))
    assert not any("word_embeddings" in k for k in stored) and compact.is_compact(stored)
    assert any(k.startswith("encoder.encoder.layer.") and k.endswith(compact.Q8) for k in stored)
    model, labels, _ = backend.read(path)
    texts = ["a gorgeous, witty, seductive movie.", "a tedious, overlong mess"]
    enc = res.model.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        before = res.model.eval()(enc["input_ids"], enc["attention_mask"]).softmax(-1)
    after = backend.probabilities(model, texts)
    assert labels == ["negative", "positive"] and torch.allclose(before, after, atol=0.02)


@pytest.fixture(scope="module")
def shipped():
    path = embedded.WEIGHTS_DIR / "sst2-supervised.safetensors"
    if not path.is_file():
        pytest.fail("weights/sst2-supervised.safetensors is missing: `python -m models.lab supervised`")
    return backend.load_supervised()


def test_the_supervised_backend_is_the_shipped_classifier_through_the_prompt_tabs_entry_point(shipped):
    model, labels, meta = shipped
    text = "It never once made me laugh, though it tries very hard to be funny."
    r = prompt_cls.predict(text, SPEC, backend="supervised")
    enc = model.tokenizer([text], return_tensors="pt")  # the oracle: the classifier run by hand
    with torch.no_grad():
        logits = model.head(model.encoder(**enc).last_hidden_state.mean(1))
    by_hand = dict(zip(labels, logits.softmax(-1)[0].tolist()))
    assert r.scores == pytest.approx(by_hand, abs=1e-4) and r.scores["negative"] > 0.9
    assert "no prompt" in r.prompt and meta["strategy"] == "full" and meta["train_rows"] > 50_000


def test_the_supervised_backend_refuses_labels_it_was_not_trained_on(shipped):
    topic = prompt_cls.make_spec(*prompt_cls.PRESETS["Topic (World / Sports / Business / Tech)"])
    with pytest.raises(InputError, match="trained on SST-2 with the labels negative and positive.*World"):
        prompt_cls.predict("Shares fell 8%.", topic, backend="supervised")


@pytest.mark.slow
def test_the_evaluation_command_measures_the_supervised_backend(shipped):
    out = subprocess.run([sys.executable, "-m", "models.eval", "sst2", "samples/sst2-300.tsv", "--backend",
                          "supervised", "--limit", "100"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-1500:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["backend"] == "supervised" and res["n"] == 100 and res["accuracy"] >= 0.8
