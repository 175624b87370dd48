"""The lab's token task (CoNLL-2003 entities): a word's label on its first piece only, entity F1 as seqeval
scores whole entities, per-token heads over one layer or the scalar mix, and the strategies that have no
token form refused by name."""
import random

import pytest
import torch

from models.errors import InputError
from models.lab import data, multitask, runner, strategies, tokens, train
from models.lab.model import LabModel, minilm_encoder


@pytest.fixture(scope="module")
def conll():
    return data.load_task("conll2003", examples=64, seed=0, dev_size=30)


def test_the_conll_task_keeps_words_and_tags_aligned(conll):
    assert conll.kind == data.TOKENS and conll.metric_name == "entity F1"
    assert {"O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"} <= set(conll.labels)
    for words, tags in conll.train + conll.dev:
        assert len(words) == len(tags) and all(0 <= t < len(conll.labels) for t in tags)
    again = data.load_task("conll2003", examples=64, seed=0, dev_size=30)
    assert again.train == conll.train and again.dev == conll.dev  # a seed draws the same sentences
    assert data.load_task("conll2003", examples=64, seed=1, dev_size=30).train != conll.train


def test_a_words_label_sits_on_its_first_piece_and_the_other_pieces_are_ignored():
    _, tok = minilm_encoder()
    words, tags = ["Schwarzenegger", "visited", "Kazakhstan"], [3, 0, 5]
    (ids, labs), = tokens.encode(tok, [(words, tags)])
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    pos = 1
    for word, tag in zip(words, tags):  # the oracle: the tokenizer's own pieces of each word
        n = len(tok(word, add_special_tokens=False)["input_ids"])
        assert labs[pos:pos + n] == [tag] + [tokens.IGNORE] * (n - 1)
        assert tok.decode(ids[pos:pos + n]).replace(" ", "") == word.lower()
        pos += n
    assert pos == len(ids) - 1 and labs[0] == labs[-1] == tokens.IGNORE


class _Oracle(torch.nn.Module):
    """Predicts the gold tag at every labelled piece (or always `O`): what entity F1 must call 1.0 (or 0)."""

    def __init__(self, gold: torch.Tensor, n: int, perfect: bool) -> None:
        super().__init__()
        self.gold, self.n, self.perfect = gold, n, perfect

    def forward(self, x, mask):
        y = self.gold[:, :x.shape[1]].clamp_min(0) if self.perfect else torch.zeros_like(x)
        return torch.nn.functional.one_hot(y, self.n).float()


def test_entity_f1_is_one_for_the_gold_tags_and_zero_for_no_entities(conll):
    _, tok = minilm_encoder()
    items = tokens.encode(tok, conll.dev)
    _, _, gold = tokens.collate(items, tok.pad_token_id)
    o = conll.labels.index("O")
    perfect = _Oracle(gold, len(conll.labels), True)
    assert tokens.entity_f1(perfect, items, conll.labels, tok.pad_token_id) == pytest.approx(1.0)
    nothing = _Oracle(torch.full_like(gold, o), len(conll.labels), True)
    assert tokens.entity_f1(nothing, items, conll.labels, tok.pad_token_id) == 0.0


def test_a_token_head_reads_each_token_of_the_chosen_layer_or_the_mix():
    _, tok = minilm_encoder()
    enc = tok(["Angela Merkel met Macron in Paris"], return_tensors="pt")
    for name in ("frozen-middle", "frozen-scalar-mix", "prompt-tuning"):
        model = LabModel(strategies.get(name), 9, tokens=True).eval()
        with torch.no_grad():
            logits = model(enc["input_ids"], enc["attention_mask"])
            layers = model.hidden_layers(enc["input_ids"], enc["attention_mask"])
        assert logits.shape == (1, enc["input_ids"].shape[1], 9)  # one row per token: prompt vectors removed
        if name == "frozen-scalar-mix":  # by hand: gamma * sum_j softmax(w)_j * h_j at every token
            w = model.mix.weights.softmax(-1)
            by_hand = model.mix.gamma * sum(w[j] * layers[j] for j in range(len(w)))
            assert torch.allclose(logits, model.head(by_hand), atol=1e-5)
        if name == "frozen-middle":
            assert torch.allclose(logits, model.head(layers[3]), atol=1e-6)


def test_frozen_token_strategies_leave_the_encoder_bit_identical_and_learn_entities(conll):
    res = train.run("frozen-top", conll, max_steps=12)
    pretrained = minilm_encoder()[0].state_dict()
    assert all(torch.equal(pretrained[k], v) for k, v in res.model.encoder.state_dict().items())
    assert res.task == "conll2003" and 0.0 <= res.metric <= 1.0 and res.dev_curve
    head = res.model.head
    assert res.trainable_params == head.weight.numel() + head.bias.numel()


def test_multi_task_on_the_token_task_adds_a_sentence_head_on_the_same_encoder(conll):
    model = LabModel(strategies.get("multi-task"), len(conll.labels), 2, tokens=True)
    shared = model.encoder.encoder.layer[0].attention.self.query.weight
    rows, labels = multitask.aux_task(conll)
    assert labels == ["negative", "positive"] and isinstance(rows[0][0], str)
    items = multitask.encode_aux(model.tokenizer, conll, rows)
    multitask.aux_loss(model, items, random.Random(0), 8, model.tokenizer.pad_token_id).backward()
    assert shared.grad.abs().sum() > 0 and model.aux_head.weight.grad is not None
    assert model.aux_head.weight.shape[0] == 2  # one sentiment label per text, not per token


def test_strategies_without_a_token_form_are_refused_by_name(conll):
    with pytest.raises(InputError, match="setfit classifies whole texts"):
        train.run("setfit", conll)
    with pytest.raises(InputError, match="prompt-finetune classifies whole texts"):
        runner.start(conll, ["frozen-top", "prompt-finetune"], 5)


def test_the_sentence_box_tags_each_word_with_every_trained_variant(conll):
    res = train.run("frozen-top", conll, max_steps=2)
    words = ["Tom", "Hanks", "lives", "in", "Paris", "."]
    tags = tokens.tag_words(res.model, words, conll.labels)
    assert len(tags) == len(words) and set(tags) <= set(conll.labels)


# ---- ChnSentiCorp on the mini ChineseBERT (a sentence task on another encoder) ----

needs_chnsenticorp = pytest.mark.skipif(not (data.CHNSENTICORP / "train.tsv").is_file(),
                                        reason="ChnSentiCorp is not on this machine")


@needs_chnsenticorp
def test_chnsenticorp_trains_a_private_copy_of_the_mini_chinesebert_and_never_its_glyph_table():
    from models.chinese import mlm

    task = data.load_task("chnsenticorp", examples=32, seed=0, dev_size=16)
    assert task.encoder == "zh-fused" and task.labels == ["negative", "positive"] and task.max_len == 128
    shipped = mlm.load("zh-fused").model.bert
    before = {k: v.clone() for k, v in shipped.state_dict().items()}
    res = train.run("full", task, max_steps=2)
    emb = res.model.encoder.embeddings
    assert not emb.glyph_embeddings.embedding.weight.requires_grad
    assert torch.equal(emb.glyph_embeddings.embedding.weight, shipped.embeddings.glyph_embeddings.embedding.weight)
    assert not torch.equal(emb.word_embeddings.weight, shipped.embeddings.word_embeddings.weight)  # it trained
    assert all(torch.equal(before[k], v) for k, v in shipped.state_dict().items())  # the app's model untouched
    assert res.trainable_params == sum(p.numel() for n, p in res.model.named_parameters()
                                       if "glyph_embeddings" not in n)


@needs_chnsenticorp
@pytest.mark.parametrize("name", ["prompt-tuning", "multi-task", "two-stage-mlm", "setfit"])
def test_strategies_built_for_the_english_model_are_refused_on_chinese_by_name(name):
    task = data.load_task("chnsenticorp", examples=8, seed=0, dev_size=4)
    with pytest.raises(InputError, match=f"{name} needs .* does not run on the mini ChineseBERT"):
        train.run(name, task, max_steps=1)


def test_the_tab_runs_the_entity_task_and_tags_a_sentence_with_each_variant():
    from tabs import lab

    *_, last = lab.train_live("conll2003", None, 32, 5, 0, ["frozen-top"], False, None)
    status, loss, dev, table, pareto, mix, curve, files, run_id = last
    assert "CoNLL-2003" in status and "`frozen-top`: done: dev entity F1" in status
    assert list(table.columns)[:2] == ["strategy", "dev_entity_F1"] and 0 <= table["dev_entity_F1"][0] <= 1
    tagged = lab.classify("Angela Merkel met Emmanuel Macron in Paris .", run_id)
    assert list(tagged.columns) == ["strategy", "entities", "tags"]
    assert tagged["tags"][0].split()[0].startswith("Angela/") and len(tagged["tags"][0].split()) == 8
    with pytest.raises(Exception, match="classifies whole texts"):
        list(lab.train_live("conll2003", None, 32, 5, 0, ["setfit"], False, run_id))


def test_the_recorded_entity_comparison_is_shown_per_task_with_its_metric():
    from tabs import lab

    notes, table, fig = lab.recorded_view(lab.GROUPS, "conll2003")
    assert "entity F1" in notes and "eng.testa" in notes and set(table["task"]) == {"conll2003"}
    assert len(table) >= 12 and (table["seeds"] >= 3).sum() >= 12
    assert fig.axes[0].get_ylabel() == "development entity F1"
    sst2_notes, sst2_table, _ = lab.recorded_view(lab.GROUPS, "sst2")
    assert "accuracy" in sst2_notes and set(sst2_table["task"]) == {"sst2"}
