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
