"""Run by tests/test_hub_offline.py in a fresh process with HF_HUB_OFFLINE=1 and HF_HUB_CACHE pointing at the
tiny stand-ins (tests/hub_fixtures.py): every Hub choice of the app through the task modules' own loading
path. Prints one JSON object: check name -> what it saw."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LONG_EN = " ".join(["The Amazon rainforest covers much of Brazil and eight other countries."] * 60)
LONG_ZH = "苏轼是北宋著名的文学家与政治家，眉州眉山人。" * 30


def main() -> None:
    import torch

    from models import fill_mask, prompt_cls, qa, registry, tagging

    out: dict = {}
    for name in registry.names("fill-mask", registry.Source.HUB):
        lm = fill_mask.load(name)
        r = fill_mask.predict("Paris is the [MASK] of France.", name, top_k=3)
        r2 = fill_mask.predict("Paris is the <mask> of France.", name, top_k=3)
        if "zh" in registry.get("fill-mask", name).languages:
            zh = fill_mask.predict("我喜欢[MASK]。", name, top_k=3)
            out[f"fill-mask {name} zh"] = {"n_masks": len(zh.predictions), "notices": zh.notices}
        out[f"fill-mask {name}"] = {"tokenizer": type(lm.tokenizer).__name__, "mask": lm.tokenizer.mask_token,
                                    "n_masks": len(r.predictions), "same_for_both_spellings":
                                    [c.token for c in r.predictions[0].candidates] ==
                                    [c.token for c in r2.predictions[0].candidates],
                                    "mask_read_as_one_token": [r.tokens[p] for p in r.mask_positions] == [lm.tokenizer.mask_token],
                                    "filled": r.filled}
    for name in registry.names("qa", registry.Source.HUB):
        m = qa.load(name)
        context = LONG_ZH if "chinese" in name else LONG_EN
        question = "苏轼是哪里人？" if "chinese" in name else "Which country has most of the rainforest?"
        inputs = qa.preprocess(question, context, m)
        res = qa.predict(question, context, name, null_threshold=float("inf"))
        spans_ok = all(context[a.start:a.end] == a.text for a in res.nbest)
        out[f"qa {name}"] = {"tokenizer": type(m.tokenizer).__name__, "windows": inputs.n_windows,
                             "batch_keys": sorted(inputs.batch(m, [0])), "spans_match_context": spans_ok,
                             "n_best": len(res.nbest)}
    for name in registry.names("tagging", registry.Source.HUB):
        tg = tagging.load(name)
        text = "我在北京的清华大学读书。" if "chinese" in name else "Angela Merkel met Emmanuel Macron in Paris."
        res = tagging.predict(text, name)
        out[f"tagging {name}"] = {"tokenizer": type(tg.tokenizer).__name__, "words": [w.word for w in res.words],
                                  "labels_from_config": {w.label for w in res.words} <= set(tg.id2label.values()),
                                  "entities_match_text": all(text[e.start:e.end] == e.text for e in res.entities)}
    spec = prompt_cls.PromptSpec("{text} It was {mask}.", {"negative": ["terrible"], "positive": ["great"]})
    lp, shown = prompt_cls.nli_label_logprobs(spec, ["A wonderful film."])
    tok, model = prompt_cls.load_nli()
    enc = tok(["A wonderful film."] * 2, ["It was terrible.", "It was great."], return_tensors="pt", padding=True)
    with torch.no_grad():
        want = model(**enc).logits[:, 0].float().log_softmax(0)  # index 0 = "entailment" in the stand-in's map
    out["nli facebook/bart-large-mnli"] = {"tokenizer": type(tok).__name__, "entailment_from_config":
                                           bool(torch.allclose(lp[0], want, atol=1e-5)), "shown": shown}
    from models.chinese import mlm as chinese_mlm

    for name in registry.names("chinese-mlm", registry.Source.HUB):
        lm = chinese_mlm.load(name)
        top = chinese_mlm.fill_mask("我喜欢[MASK]。", name, top_k=3)
        seen = chinese_mlm.inspect_text("银行在行走的路边。", name)
        emb = lm.model.bert.embeddings
        out[f"chinese-mlm {name}"] = {
            "layers": lm.model.config.num_hidden_layers, "n_masks": len(top), "top_k": len(top[0]),
            "fusion": bool(getattr(lm.model.config, "fusion", True)), "chars": [c.char for c in seen.chars],
            "glyph_rows": int(emb.glyph_embeddings.embedding.weight.abs().sum(-1).gt(0).sum())
            if hasattr(emb, "glyph_embeddings") else 0}
    out["views"] = view_checks()
    out["traces"] = trace_checks()
    print(json.dumps(out, default=str))


def view_checks() -> dict:
    """For every Hub model the views list: does it have BERT blocks (looked at, not taken from the registry),
    and did the neuron view run or refuse it?"""
    from models import inside, registry
    from models.errors import InputError
    from models.inside import neurons

    seen = {}
    for c in registry.CHECKPOINTS:
        if not (c.needs_hub and c.task in registry.VIEW_TASKS):
            continue
        choice = registry.choice(c.task, c.name)
        model = inside.load(choice).model
        try:
            blocks = inside.encoder_layers(model)
            bert_blocks = all(hasattr(b.attention.self, "query") and hasattr(b.attention.self, "key") for b in blocks)
        except (InputError, AttributeError):
            bert_blocks = False
        try:
            zh = "en" not in c.languages
            text = ("谁坐着？ [SEP] 猫坐在垫子上。" if zh else "Who sat? [SEP] The cat sat on the mat.") if c.task == "qa" \
                else ("猫坐在垫子上。" if zh else "The cat sat on the mat.")
            neurons.neuron_view(text, choice, 0, 0, 1)
            ran = "ran"
        except InputError as exc:
            ran = str(exc)
        seen[choice] = {"bert_blocks": bert_blocks, "neurons": ran, "offered": choice in inside.model_choices("neurons")}
    from models.inside import attention

    for name in ("roberta-base", "bert-base-uncased"):  # a typed [MASK] is the model's one mask token
        tokens = attention.attention("Paris is the [MASK] of France.", registry.choice("fill-mask", name)).tokens
        seen[f"attention {name}"] = {"tokens": tokens}
    return seen


def trace_checks() -> dict:
    """A RoBERTa `<mask>` input and a 300-token QA context through the tabs' predict(), then through every view
    that opens those models: the ids each view reports, the ids the tab ran, and the ids built by hand."""
    from models import fill_mask, qa, registry
    from models.inside import attention, attribution, logit_lens, neurons

    seen = {}
    text = "Paris is the <mask> of France."
    lm = fill_mask.load("roberta-base")
    tok = lm.tokenizer
    by_hand = ([tok.bos_token_id] + tok("Paris is the", add_special_tokens=False)["input_ids"] + [tok.mask_token_id]
               + tok(" of France.", add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
    choice = registry.choice("fill-mask", "roberta-base")
    seen["fill-mask roberta-base"] = {
        "by_hand": by_hand, "tab": fill_mask.predict(text, "roberta-base").trace.windows,
        "attention": attention.attention(text, choice).input_ids,
        "neurons": neurons.neuron_view(text, choice, 0, 0, 1).input_ids,
        "logit_lens": logit_lens.logit_lens(text, "roberta-base")[0].trace.input_ids}
    name = "deepset/roberta-base-squad2"
    m = qa.load(name)
    question = "Which country has most of the rainforest?"
    context = " ".join(["The Amazon rainforest covers much of Brazil and eight other countries."] * 40)  # > one 384-token window
    enc = m.tokenizer(question, context, truncation="only_second", max_length=qa.MAX_LEN, stride=qa.DOC_STRIDE,
                      return_overflowing_tokens=True)
    res = qa.predict(question, context, name, null_threshold=float("inf"))
    choice = registry.choice("qa", name)
    shown = attribution.shown_answer(question, context, name, 30)
    seen[f"qa {name}"] = {
        "context_tokens": len(m.tokenizer(context, add_special_tokens=False)["input_ids"]),
        "by_hand": enc["input_ids"], "tab": res.trace.windows,
        "attention": attention.attention(f"{question} [SEP] {context}", choice, max_tokens=1000).input_ids,
        "neurons": neurons.neuron_view(f"{question} [SEP] {context}", choice, 0, 0, 1).input_ids,
        "explain_qa": [i for i, a in zip(shown.batch["input_ids"][0].tolist(), shown.batch["attention_mask"][0]) if a],
        "explain_qa_window": shown.answer.window}
    return seen


if __name__ == "__main__":
    main()
