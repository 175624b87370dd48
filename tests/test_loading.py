import threading
import time

import pytest

from models import loading, registry
from models.errors import InputError, ModelUnavailable


def test_unknown_checkpoint_names_the_choices():
    with pytest.raises(ModelUnavailable, match="Choose one of: embedded-squad, "):
        registry.get("qa", "nope")


def test_the_registry_is_the_one_table_every_consumer_reads():
    """Tabs, views and the eval CLI take their choices from the registry: a row added there shows up
    everywhere, and every embedded row points at a weight file that exists."""
    from models import embedded, inside
    from models.inside import heads

    for task in ("fill-mask", "qa", "tagging", "chinese-mlm", "chinese-sentiment"):
        rows = registry.checkpoints(task)
        assert rows and registry.default(task) == next(c.name for c in rows if not c.needs_hub)
        for c in rows:
            if c.source is registry.Source.EMBEDDED:
                assert (embedded.WEIGHTS_DIR / c.location).is_file(), c
    assert inside.model_choices() == [registry.choice(t, n) for t in inside.VIEW_TASKS for n in registry.names(t)]
    assert registry.parse_choice("tagging: embedded-upos", inside.VIEW_TASKS) == ("tagging", "embedded-upos")
    for bad in ("tagging: nope", "nli: facebook/bart-large-mnli", "embedded-upos", ""):
        with pytest.raises(InputError, match="pick one of"):
            registry.parse_choice(bad, inside.VIEW_TASKS)
    assert heads.load_labelled("embedded-upos")  # the sample path comes from the registry row
    with pytest.raises(InputError, match="No built-in labelled sample"):
        heads.load_labelled("dslim/bert-base-NER")


def test_cache_builds_once_under_concurrent_requests():
    calls = []

    def build():
        calls.append(1)
        time.sleep(0.2)
        return object()

    cache = loading._Cache()
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get("k", build))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert all(g is got[0] for g in got)
    assert cache.is_loaded("k") and cache.load_seconds["k"] >= 0.2


def test_hub_offline_env_is_honoured(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert loading.hub_reachable() is False


def test_hub_checkpoint_offline_fails_fast_with_clear_message(monkeypatch):
    monkeypatch.setattr(loading, "hub_reachable", lambda timeout=3.0: False)

    def load_fn(repo_id, local_files_only=False):
        if local_files_only:
            raise OSError("not cached")
        raise AssertionError("must not try the network when the Hub is unreachable")

    t0 = time.time()
    with pytest.raises(ModelUnavailable, match="cannot be reached"):
        loading.from_hub(load_fn, "bert-base-uncased")
    assert time.time() - t0 < 10


def test_non_embedded_models_are_evicted_least_recently_used_first():
    """Issue 12, defect 5: every Hub model anyone picked stayed in memory."""
    import torch

    cache = loading._Cache(budget_bytes=2 * 4000 * 4)  # room for two models of 4,000 fp32 parameters
    built = []

    def model(name):
        def build():
            built.append(name)
            return torch.nn.Linear(4000, 1, bias=False)
        return build

    keep = cache.get("embedded", model("embedded"))  # not evictable: never dropped
    a = cache.get("a", model("a"), evictable=True)
    cache.get("b", model("b"), evictable=True)
    assert cache.get("a", model("a"), evictable=True) is a  # a used again: b is now the oldest
    cache.get("c", model("c"), evictable=True)
    assert cache.is_loaded("a") and cache.is_loaded("c") and not cache.is_loaded("b")
    assert cache.evictable_bytes() <= cache.budget_bytes
    assert cache.get("embedded", model("embedded")) is keep
    cache.get("b", model("b"), evictable=True)  # comes back by loading again
    assert built == ["embedded", "a", "b", "c", "b"] and not cache.is_loaded("a")
    assert loading.model_bytes(keep) == 4000 * 4
