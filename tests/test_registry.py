"""The registry is the one table: the README's model table and the Space's model list come from it, and what
it says a model can do is what the views offer."""
import re
from pathlib import Path

import pytest

from models import embedded, inside, registry, tasks
from models.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_model_table_is_the_registrys():
    table = README.split("<!-- models-table:start -->\n")[1].split("<!-- models-table:end -->")[0]
    assert table == registry.markdown_table(), "run `python -m models.registry --markdown` and paste it into README.md"
    assert len(table.strip().splitlines()) == len(registry.CHECKPOINTS) + 2


def test_the_space_front_matter_lists_every_hub_model_the_app_can_load():
    front = README.split("---")[1]
    listed = set(re.findall(r"^  - (\S+)$", front.split("models:")[1], re.M))
    wanted = {c.location for c in registry.CHECKPOINTS if c.needs_hub}
    wanted |= {c.hub_fallback for c in registry.CHECKPOINTS if c.hub_fallback} | {embedded.ENCODER_HUB_ID}
    assert listed == wanted, listed ^ wanted


def test_every_task_has_its_loader_and_every_tagger_its_label_set():
    assert set(tasks.LOADERS) == set(registry.TASKS)
    for c in registry.CHECKPOINTS:
        assert (c.labels is not None) == (c.task == "tagging"), c.name


def test_views_offer_only_models_of_their_capability():
    neurons = inside.model_choices("neurons")
    assert "fill-mask: distilbert-base-uncased" not in neurons and "fill-mask: roberta-base" in neurons
    assert inside.model_choices("attention") == [registry.choice(t, n) for t in registry.VIEW_TASKS
                                                 for n in registry.names(t)]
    # entity views and batch mode: the NER taggers (English and Chinese), never the POS ones
    ner = {c.name for c in registry.CHECKPOINTS if c.labels is registry.Labels.NER}
    assert {c.name for c in registry.for_view("explain-entity")} == ner
    assert {"embedded-ner", "zh-weibo", "dslim/bert-base-NER"} <= ner
    assert not ner & {"embedded-upos", "vblagoje/bert-english-uncased-finetuned-pos"}
    assert [c.name for c in registry.for_view("heads")] == ["embedded-ner", "embedded-upos"]


def test_a_view_refuses_a_model_it_cannot_open_by_name_with_the_ones_it_can():
    with pytest.raises(InputError, match="cannot open fill-mask: distilbert-base-uncased.*pick one of: fill-mask: "
                                         "embedded-general"):
        inside.load("fill-mask: distilbert-base-uncased", "neurons")


def test_every_embedded_model_a_view_offers_opens_in_it():
    """The capability table against the models: every embedded choice of the neuron view has BERT blocks."""
    for choice in inside.model_choices("neurons"):
        task, name = registry.parse_choice(choice, registry.VIEW_TASKS)
        if registry.get(task, name).needs_hub:
            continue  # the Hub ones: tests/test_hub_offline.py on their stand-ins
        blocks = inside.encoder_layers(inside.load(choice).model)
        assert blocks and all(hasattr(b.attention.self, "query") for b in blocks), choice
