"""Issue 16: the Hub choices a Space offers, run offline through the app's own from_pretrained(repo_id)
path on tiny stand-ins with the real config, model and tokenizer types (tests/hub_fixtures.py)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.hub  # the Hub choices, on tiny offline stand-ins (no network needed)


@pytest.fixture(scope="module")
def offline_hub_results(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import hub_fixtures

    cache = tmp_path_factory.mktemp("hf-cache")
    built = hub_fixtures.build_cache(cache)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "hub_checks.py")], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "built": built}


def test_every_hub_choice_of_the_app_has_a_stand_in_built_from_its_registry_row(offline_hub_results):
    """The stand-ins come from what each registry row declares (task, family, labels, languages): every Hub row
    gets one, and a row of a kind the fixtures cannot build fails here instead of going untested."""
    from models import registry

    built = set(offline_hub_results["built"])
    wanted = {c.location for c in registry.CHECKPOINTS if c.needs_hub}
    assert built == wanted, built ^ wanted
    ran = {k.split(" ", 1)[1] for k in offline_hub_results if k.count(" ") == 1 and k not in ("views", "traces")}
    assert {c.name for c in registry.CHECKPOINTS if c.needs_hub} <= ran


def test_the_views_offer_exactly_the_hub_models_they_can_open(offline_hub_results):
    """The registry's capability table against the models themselves: the neuron view is offered for a model
    iff it has BERT blocks (query/key per layer), runs on every one offered, and refuses the others clearly."""
    views = {k: v for k, v in offline_hub_results["views"].items() if not k.startswith("attention ")}
    assert any(not v["bert_blocks"] for v in views.values()) and any(v["bert_blocks"] for v in views.values())
    for choice, v in views.items():
        assert v["offered"] == v["bert_blocks"], (choice, v)
        if v["bert_blocks"]:
            assert v["neurons"] == "ran", (choice, v)
        else:
            assert "cannot open" in v["neurons"] and "pick one of" in v["neurons"], (choice, v)


def test_fill_mask_hub_paths_mask_tokens(offline_hub_results):
    """WordPiece [MASK] and RoBERTa's <mask>: either spelling in the text becomes the model's one mask token."""
    for name in ("bert-base-uncased", "distilbert-base-uncased", "roberta-base", "xlm-roberta-base"):
        r = offline_hub_results[f"fill-mask {name}"]
        assert r["n_masks"] == 1 and r["same_for_both_spellings"] and r["mask_read_as_one_token"], (name, r)
    assert offline_hub_results["fill-mask xlm-roberta-base"]["tokenizer"].startswith("XLMRoberta")  # SentencePiece
    zh = offline_hub_results["fill-mask xlm-roberta-base zh"]
    assert zh["n_masks"] == 1 and not any("Chinese" in n and "English" in n for n in zh["notices"]), zh
    assert offline_hub_results["fill-mask roberta-base"]["mask"] == "<mask>"
    assert offline_hub_results["fill-mask roberta-base"]["tokenizer"].startswith("Roberta")


def test_qa_hub_paths_offsets_windows_and_token_types(offline_hub_results):
    """Byte-level BPE offsets (RoBERTa) and WordPiece offsets map answers back to the exact context text;
    long contexts are windowed; DistilBERT and RoBERTa get no token_type_ids."""
    for name, wants_types in (("distilbert-base-cased-distilled-squad", False), ("deepset/roberta-base-squad2", False),
                              ("uer/roberta-base-chinese-extractive-qa", True)):
        r = offline_hub_results[f"qa {name}"]
        assert r["windows"] > 1 and r["n_best"] >= 1 and r["spans_match_context"], (name, r)
        assert ("token_type_ids" in r["batch_keys"]) == wants_types, (name, r)


def test_tagging_hub_paths_label_maps(offline_hub_results):
    for name in ("dslim/bert-base-NER", "vblagoje/bert-english-uncased-finetuned-pos", "ckiplab/bert-base-chinese-ner"):
        r = offline_hub_results[f"tagging {name}"]
        assert r["labels_from_config"] and r["entities_match_text"], (name, r)
    assert offline_hub_results["tagging ckiplab/bert-base-chinese-ner"]["words"] == list("我在北京的清华大学读书。")
    assert offline_hub_results["tagging dslim/bert-base-NER"]["words"][:2] == ["Angela", "Merkel"]  # cased


def test_nli_entailment_index_is_read_from_the_config(offline_hub_results):
    r = offline_hub_results["nli facebook/bart-large-mnli"]
    # transformers 5 loads BART's tokenizer as the RoBERTa byte-level BPE class it is
    assert r["entailment_from_config"] and r["tokenizer"].startswith(("Bart", "Roberta")), r


def test_official_chinesebert_layout_loads_from_its_pickled_bin(offline_hub_results):
    """ShannonAI/ChineseBERT-base ships only pytorch_model.bin: read through the weights-only loader, sizes from
    its config.json, glyph table from its state dict."""
    r = offline_hub_results["chinese-mlm ShannonAI/ChineseBERT-base"]
    assert r["layers"] == 2 and r["n_masks"] == 1 and r["top_k"] == 3 and r["glyph_rows"] > 0 and r["fusion"], r


def test_bert_base_chinese_is_the_char_only_baseline_in_the_chinesebert_tab(offline_hub_results):
    r = offline_hub_results["chinese-mlm bert-base-chinese"]
    assert not r["fusion"] and r["n_masks"] == 1 and r["chars"] == list("银行在行走的路边。"), r


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import hub_fixtures

    marker = tmp_path / "code-ran"
    hub_fixtures.official_chinesebert(tmp_path / "cache", payload={"x": _RunsCode(marker)})
    code = ("from models.chinese import mlm as chinese_mlm\n"
            "try:\n    chinese_mlm.load(chinese_mlm.HUB_ID)\nexcept Exception as e:\n    print(type(e).__name__, e)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert "WeightsError" in r.stdout and "weights-only" in r.stdout, r.stdout + r.stderr[-2000:]
    assert not marker.exists()


def test_the_attention_view_reads_a_typed_mask_as_the_models_mask_token(offline_hub_results):
    for name, mask in (("roberta-base", "<mask>"), ("bert-base-uncased", "[MASK]")):
        tokens = offline_hub_results["views"][f"attention {name}"]["tokens"]
        assert tokens.count(mask) == 1 and not any("MASK" in t and t != mask for t in tokens), (name, tokens)


def test_every_view_reads_the_ids_the_tab_ran_for_roberta_and_a_long_qa_context(offline_hub_results):
    """RoBERTa's `<mask>` and a QA context of several windows: the tab's trace is the input built by hand (the
    mask one token, every window the tokenizer's own overflow), and every view reports those same ids."""
    fm = offline_hub_results["traces"]["fill-mask roberta-base"]
    assert fm["tab"] == [fm["by_hand"]]
    for view in ("attention", "neurons", "logit_lens"):
        assert fm[view] == fm["by_hand"], view
    q = offline_hub_results["traces"]["qa deepset/roberta-base-squad2"]
    assert q["context_tokens"] > 300 and len(q["tab"]) >= 2 and q["tab"] == q["by_hand"]
    assert q["attention"] == q["neurons"] == q["by_hand"][0]  # the views draw the first window
    assert q["explain_qa"] == q["by_hand"][q["explain_qa_window"]]  # attribution: the answer's own window
