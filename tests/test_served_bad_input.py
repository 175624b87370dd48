"""The bad-input matrix, endpoint by endpoint, against the served app through gradio_client (the public
API): each bad input gets its own readable message (never Gradio's generic "upstream app has raised an
exception"), and the app keeps serving afterwards."""
import html
import re

import pytest

VERB = {"headers": ["label", "words"], "data": [["negative", "terrible"], ["positive", "great"]]}
SHOTS = {"headers": ["text", "label"], "data": [["", ""]]}
HUGE = "word " * 25_000  # 125,000 characters: over every text limit


def classify(text="fine", template="{text} It was {mask}.", verbalizer=VERB, few_shot=SHOTS, demos=False):
    return (text, template, verbalizer, "cloze", "embedded-general", False, few_shot, demos), "/classify"


# (case id, args, endpoint, pattern the message must match)
MATRIX = [
    ("fill-empty", ("", "embedded-general", 5), "/fill_mask", r"empty"),
    ("fill-no-mask", ("no mask here", "embedded-general", 5), "/fill_mask", r"No mask found\. Write \[MASK\] \(or <mask>\)"),
    ("fill-11-masks", (" ".join(["[MASK]"] * 11), "embedded-general", 5), "/fill_mask", r"at most 10"),
    ("fill-huge", (HUGE + "[MASK]", "embedded-general", 5), "/fill_mask", r"limit is 100,000"),
    ("fill-unknown-model", ("a [MASK]", "no-such-model", 5), "/fill_mask", r"no-such-model is not in the list of choices"),
    ("fill-hub-offline", ("a [MASK]", "roberta-base", 5), "/fill_mask", r"Hub cannot be reached"),
    ("qa-empty-question", ("", "Some context.", "embedded-squad", 5, 30, 0.0), "/answer", r"question is empty"),
    ("qa-empty-context", ("Who?", "  ", "embedded-squad", 5, 30, 0.0), "/answer", r"context is empty"),
    ("qa-huge-context", ("Who?", HUGE, "embedded-squad", 5, 30, 0.0), "/answer", r"limit is 50,000"),
    ("qa-bad-nbest", ("Who?", "Bob did.", "embedded-squad", 99, 30, 0.0), "/answer", r"99 is greater than maximum value 20"),
    ("tag-empty", ("", "Named entities", "embedded-ner", "first"), "/tag", r"empty"),
    ("tag-bad-aggregation", ("Bob ran.", "Named entities", "embedded-ner", "median"), "/tag", r"'median'.*not in the list of choices"),
    ("tag-huge", (HUGE, "Named entities", "embedded-ner", "first"), "/tag", r"limit is 100,000"),
    ("classify-bad-few-shot-label", *classify(few_shot={"headers": ["text", "label"], "data": [["meh", "neutral"]]},
                                              demos=True), r"label 'neutral', which is not one of"),
    ("classify-verbalizer-none", *classify(verbalizer=None), r"at least two labels"),
    ("classify-unknown-slot", *classify(template="{text} {foo} It was {mask}."), r"Unknown slot.*\{foo\}"),
    ("classify-no-mask-slot", *classify(template="{text} It was good."), r"needs both a \{text\} slot"),
    ("classify-empty-text", *classify(text=""), r"empty"),
    ("zh-inspect-empty", ("", "zh-fused"), "/chinesebert_inspect", r"empty"),
    ("zh-fill-english", ("The cat sat on the [MASK].", "zh-fused"), "/chinesebert_fill", r"no Chinese characters"),
    ("zh-fill-too-many-blanks", ("我" + "[MASK]" * 11, "zh-fused"), "/chinesebert_fill", r"at most 10"),
    ("zh-sentiment-english", ("Terrible, boring, a waste of time.", "zh-fused"), "/chinesebert_sentiment",
     r"no Chinese characters"),
    ("zh-neighbours-huge", ("猫" * 50_000, "zh-fused"), "/chinesebert_neighbours", r"50,000 characters"),
    ("inside-attention-empty", ("", "fill-mask: embedded-general"), "/inside_attention", r"empty"),
    ("inside-attention-bad-model", ("The cat.", "nowhere: x"), "/inside_attention", r"nowhere: x is not in the list of choices"),
    ("inside-lens-no-mask", ("no mask", "embedded-general"), "/inside_logit_lens", r"No mask"),
    ("inside-prune-malformed", ("embedded-upos", None, "one-two"), "/inside_prune", r"not layer-head"),
    ("inside-two-methods-qa-empty", ("", "", "start", "embedded-squad", "Occlusion", "LIME"), "/inside_two_methods_qa",
     r"empty"),
    ("inside-batch-model-of-another-task", (None, "entities", "embedded-squad"), "/inside_batch",
     r"embedded-squad is not a model for entities"),
    ("inside-two-methods-no-mask", ("No blank here.", "great", "bad", "embedded-general", "Integrated Gradients",
                                    "Occlusion"), "/inside_two_methods_contrast", r"Put a \[MASK\]"),
    ("inside-two-methods-empty", ("", "embedded-general", "LIME", "Occlusion"), "/inside_two_methods_classification",
     r"empty"),
    ("inside-neurons-bad-layer", ("The cat.", "fill-mask: embedded-general", 24, 1, 1), "/inside_neurons",
     r"Layer 24 does not exist"),
    ("inside-corpus-search-bad-token", ("A cat.", "fill-mask: embedded-general", 30, 3, 5), "/inside_corpus_search",
     r"Token 30 does not exist"),
    ("inside-factor-unknown", (9999,), "/inside_factor", r"Factor 9999 does not exist"),
    ("inside-two-methods-entity-missing", ("Angela Merkel met Emmanuel Macron.", 9, "embedded-ner", "LIME", "Occlusion"),
     "/inside_two_methods_entity", r"Entity 9 does not exist"),
    ("inside-batch-bad-model", (None, "sentiment", "nowhere"), "/inside_batch", r"nowhere is not a model for sentiment"),
    ("inside-compare-empty", ("", "fill-mask: embedded-general", "fill-mask: embedded-movies"), "/inside_compare",
     r"at least one sentence"),
    ("inside-compare-too-many", ("a b c\n" * 65, "fill-mask: embedded-general", "tagging: embedded-ner"),
     "/inside_compare", r"At most 64 sentences"),
]


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.mark.parametrize("case,args,endpoint,pattern", MATRIX, ids=[m[0] for m in MATRIX])
def test_bad_input_gets_its_own_message(client, case, args, endpoint, pattern):
    with pytest.raises(Exception) as err:
        client.predict(*args, api_name=endpoint)
    message = html.unescape(str(err.value))
    assert "upstream" not in message.lower(), message
    assert re.search(pattern, message), message
    assert len(message) < 700, "a bad input must not be echoed back whole"


def test_missing_tables_through_the_api_are_handled(client):
    """Issue 12, defect 7: few_shot=None gave Gradio's generic error; now it is simply no examples."""
    notes, scores, prompt, words, raw = client.predict(*classify(few_shot=None, demos=True)[0], api_name="/classify")
    assert set(raw["scores"]) == {"negative", "positive"} and "No few-shot examples" in notes


def test_app_still_serves_after_the_matrix(client):
    _, filled, *_ = client.predict("Paris is the [MASK] of France.", "embedded-general", 3, api_name="/fill_mask")
    assert "[MASK]" not in filled
