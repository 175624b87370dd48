"""Fine-tuning lab: each strategy trains exactly what it says (frozen stays bit-identical, adapters count what
peft counts, gradual unfreezing opens one layer per epoch, the scalar mix is a distribution), and runs repeat."""
import subprocess
import sys

import pytest
import torch

from models.lab import data, strategies, train
from models.lab.model import minilm_encoder


@pytest.fixture(scope="module")
def tiny():
    return data.load_task("sst2", examples=64, seed=0, dev_size=40)


def test_frozen_strategies_leave_every_encoder_weight_bit_identical(tiny):
    res = train.run("frozen-scalar-mix", tiny, max_steps=4)
    pretrained = minilm_encoder()[0].state_dict()
    trained = res.model.encoder.state_dict()
    assert pretrained.keys() == trained.keys()
    assert all(torch.equal(pretrained[k], trained[k]) for k in pretrained)
    weights = torch.tensor(res.mix_weights)
    assert len(weights) == 7 and float(weights.sum()) == pytest.approx(1.0, abs=1e-6) and (weights > 0).all()
    head = res.model.head
    assert res.trainable_params == head.weight.numel() + head.bias.numel() + 7 + 1  # head, mix weights, gamma


def test_full_fine_tuning_moves_the_encoder(tiny):
    res = train.run("full", tiny, max_steps=2)
    pretrained = minilm_encoder()[0].state_dict()
    k = "encoder.layer.5.output.dense.weight"
    assert not torch.equal(pretrained[k], res.model.encoder.state_dict()[k])


@pytest.mark.parametrize("name", ["lora", "ia3"])
def test_adapter_strategies_report_the_trainable_count_peft_reports(tiny, name):
    res = train.run(name, tiny, max_steps=1)
    head = sum(p.numel() for p in res.model.head.parameters())
    assert res.peft_trainable and res.trainable_params == res.peft_trainable + head
    assert res.trainable_params < 0.01 * sum(p.numel() for p in res.model.parameters())


def test_bitfit_trains_only_the_encoders_bias_terms(tiny):
    res = train.run("bitfit", tiny, max_steps=1)
    trainable = [n for n, p in res.model.encoder.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith(".bias") for n in trainable)


def test_gradual_unfreezing_opens_one_more_layer_each_epoch_top_down(tiny):
    res = train.run("gradual-unfreezing", tiny, max_steps=6)  # 64 rows, batches of 32: 2 steps an epoch
    assert res.unfrozen_per_epoch == [[5], [4, 5], [3, 4, 5]]
    blocks = res.model.encoder.encoder.layer
    assert [all(p.requires_grad for p in b.parameters()) for b in blocks] == [False] * 3 + [True] * 3
    assert not any(p.requires_grad for p in res.model.encoder.embeddings.parameters())
    assert strategies.unfrozen_layers(6, 10) == list(range(6))


def test_the_same_seed_gives_the_same_metric_twice(tiny):
    a, b = (train.run("frozen-top", tiny, seed=3, max_steps=5) for _ in range(2))
    assert a.metric == b.metric and a.loss_curve == b.loss_curve


def test_the_command_line_lists_strategies_and_refuses_an_unknown_one():
    run = lambda *a: subprocess.run([sys.executable, "-m", "models.lab", *a], capture_output=True, text=True)
    listed = run("strategies").stdout.splitlines()
    assert [l.split()[0] for l in listed] == [s.name for s in strategies.STRATEGIES]
    bad = run("run", "--strategies", "lora", "nope", "--max-steps", "1")
    assert bad.returncode == 2 and "Unknown strategy 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_chain_thaw_trains_the_head_alone_then_one_layer_at_a_time_bottom_up(tiny):
    res = train.run("chain-thaw", tiny, max_steps=6)  # 3 epochs of 2 steps
    assert res.unfrozen_per_epoch == [[], [0], [1]]
    blocks = res.model.encoder.encoder.layer
    assert [all(p.requires_grad for p in b.parameters()) for b in blocks] == [False, True] + [False] * 4
    assert not any(p.requires_grad for p in res.model.head.parameters())
    assert strategies.chain_thaw_layers(6, 7) == (list(range(6)), True)


def test_bottleneck_adapters_start_as_the_identity_and_train_beside_a_frozen_encoder(tiny):
    from models.lab.model import LabModel

    fresh = LabModel(strategies.get("adapter"), 2)
    plain = LabModel(strategies.get("frozen-top"), 2)
    fresh.eval(), plain.eval()  # no dropout
    enc = fresh.tokenizer(["a fine film"], return_tensors="pt")
    with torch.no_grad():  # zero-initialised up-projections: the encoder's own output, unchanged
        assert torch.allclose(fresh.pooled_layers(enc["input_ids"], enc["attention_mask"]),
                              plain.pooled_layers(enc["input_ids"], enc["attention_mask"]), atol=1e-6)
    res = train.run("adapter", tiny, max_steps=2)
    pretrained = minilm_encoder()[0].state_dict()
    assert all(torch.equal(v, res.model.encoder.state_dict()[k]) for k, v in pretrained.items())
    own = sum(p.numel() for p in res.model.adapters.parameters()) + sum(p.numel() for p in res.model.head.parameters())
    assert res.trainable_params == own == 6 * (384 * 32 + 32 + 32 * 384 + 384) + 770
    assert any(float(a.up.weight.abs().sum()) > 0 for a in res.model.adapters)  # they trained


def test_two_stage_starts_stage_two_from_stage_ones_weights(tiny, monkeypatch):
    """Stage one's encoder (here a marked one) is what stage two trains from: after a few tiny stage-two steps
    the weight still carries the mark, so it did not restart from the pre-trained encoder."""
    from models.lab import two_stage

    key = "encoder.layer.2.output.dense.weight"

    def marked_stage_one(model, texts, steps=None, seconds=None, seed=0):
        with torch.no_grad():
            model.encoder.state_dict()[key].add_(1.0)
        return 1

    monkeypatch.setattr(two_stage, "mlm_steps", marked_stage_one)
    res = train.run("two-stage-mlm", tiny, max_steps=3)
    base = minilm_encoder()[0].state_dict()[key]
    moved = res.model.encoder.state_dict()[key] - base
    assert res.stage_one_steps == 1 and res.steps == 3
    assert float(moved.mean()) == pytest.approx(1.0, abs=0.01)


def test_stage_one_masked_lm_moves_the_encoder_with_a_head_tied_to_its_embeddings(tiny):
    from models.lab import two_stage
    from models.lab.model import LabModel

    model = LabModel(strategies.get("two-stage-mlm"), 2)
    assert two_stage.mlm_head(model).predictions.decoder.weight is model.encoder.embeddings.word_embeddings.weight
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    assert two_stage.mlm_steps(model, [t for t, _ in tiny.train], steps=2) == 2
    after = model.encoder.state_dict()
    assert not torch.equal(before["encoder.layer.5.output.dense.weight"], after["encoder.layer.5.output.dense.weight"])


def test_multi_task_heads_share_one_encoder_tensor(tiny):
    """Both heads' losses reach the very same encoder parameter (one tensor, not a copy per task)."""
    import random

    from models.lab import data as lab_data, multitask
    from models.lab.model import LabModel

    sents, tags = lab_data.ner_sentences(limit=50)
    model = LabModel(strategies.get("multi-task"), 2, len(tags))
    shared = model.encoder.encoder.layer[0].attention.self.query.weight
    items = multitask.encode_tagged(model.tokenizer, sents, tags)
    pad = model.tokenizer.pad_token_id
    multitask.aux_loss(model, items, random.Random(0), 8, pad).backward()
    from_entities = shared.grad.clone()
    shared.grad = None
    enc = model.tokenizer(["a fine film", "a dull film"], padding=True, return_tensors="pt")
    model(enc["input_ids"], enc["attention_mask"]).sum().backward()
    assert from_entities.abs().sum() > 0 and shared.grad.abs().sum() > 0
    assert model.head.weight.grad is not None and model.aux_head.weight.grad is not None


def test_prompt_tuning_trains_only_its_vectors_and_the_head(tiny):
    res = train.run("prompt-tuning", tiny, max_steps=2)
    pretrained = minilm_encoder()[0].state_dict()
    assert all(torch.equal(pretrained[k], v) for k, v in res.model.encoder.state_dict().items())
    assert res.trainable_params == 20 * 384 + res.model.head.weight.numel() + res.model.head.bias.numel()


def test_the_recorded_summary_is_the_mean_and_spread_over_seeds(tmp_path):
    import json

    from models.lab import recorded

    rows = [{"task": "sst2", "strategy": s, "seed": seed, "metric": m, "trainable_params": 10, "stored_mb": 0.1,
             "seconds": 2.0, "steps": 96, "examples": 1000}
            for s, ms in {"full": [0.8, 0.82, 0.84], "lora": [0.7, 0.7, 0.7]}.items() for seed, m in enumerate(ms)]
    path = tmp_path / "recorded.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = recorded.summary(recorded.load(path))
    assert [r["strategy"] for r in summary] == ["full", "lora"]  # best first
    assert summary[0]["metric"] == pytest.approx(0.82) and summary[0]["std"] == pytest.approx(0.0163, abs=1e-4)
    assert summary[1]["std"] == 0 and summary[0]["seeds"] == [0, 1, 2]


def test_the_shipped_recorded_comparison_has_at_least_twelve_strategies_with_three_seeds_per_task():
    import json

    out = subprocess.run([sys.executable, "-m", "models.lab", "recorded"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-1500:]
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["strategy"] for r in rows} <= {s.name for s in strategies.STRATEGIES}
    for task in ("sst2", "conll2003"):
        assert sum(len(r["seeds"]) >= 3 for r in rows if r["task"] == task) >= 12, task
    for r in rows:
        assert {"task", "strategy", "metric", "std", "seeds"} <= set(r), r
        assert (0.5 if r["task"] == "sst2" else 0.0) <= r["metric"] <= 1 and 0 <= r["std"] < 0.2
    conll = {r["strategy"] for r in rows if r["task"] == "conll2003"}
    assert not conll & {"setfit", "prompt-finetune"}  # no token form: never recorded on the entity task
