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
