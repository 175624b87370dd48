"""Sequence tagging: BIO/IOB1 decoding, aggregation, readers, and the real embedded taggers."""
import numpy as np
import pytest

from models import readers, tagging
from models.errors import InputError
from models.tagging import WordTag


def test_iob1_is_converted_to_bio():
    assert readers.iob1_to_bio(["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]


def test_entities_are_decoded_from_bio_and_iob1():
    words = [WordTag("A", 0, 1, "I-PER", .9), WordTag("B", 2, 3, "I-PER", .7), WordTag("C", 4, 5, "B-PER", .6),
             WordTag("D", 6, 7, "I-ORG", .5), WordTag("E", 8, 9, "O", .9)]
    ents = tagging.decode_entities(words, "A B C D E")
    assert [(e.label, e.text) for e in ents] == [("PER", "A B"), ("PER", "C"), ("ORG", "D")]
    assert ents[0].score == pytest.approx(0.8)


def test_aggregation_strategies():
    probs = np.array([[0.6, 0.4], [0.1, 0.9], [0.5, 0.5]])
    assert tagging.aggregate(probs, "first").argmax() == 0
    assert tagging.aggregate(probs, "average").argmax() == 1
    assert tagging.aggregate(probs, "max").tolist() == [0.1, 0.9]
    with pytest.raises(InputError):
        tagging.aggregate(probs, "median")


def test_readers_follow_the_formats(tmp_path):
    conll = tmp_path / "x.conll"
    conll.write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n")
    assert readers.read_conll(conll) == [(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"])]
    conllu = tmp_path / "x.conllu"
    conllu.write_text("# text = I don't\n1\tI\tI\tPRON\t_\t_\t0\t_\t_\t_\n2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
                      "2\tdo\tdo\tAUX\t_\t_\t0\t_\t_\t_\n3\tn't\tnot\tPART\t_\t_\t0\t_\t_\t_\n\n")
    assert readers.read_conllu(conllu) == [(["I", "do", "n't"], ["PRON", "AUX", "PART"])]


def test_cjk_characters_are_words():
    tok = tagging.load("embedded-ner").tokenizer
    words = tagging.split_words(tok, "苏轼是ab人 ok")
    assert [w for w, _, _ in words] == ["苏", "轼", "是", "ab", "人", "ok"]


def test_embedded_ner_finds_entities_in_new_text():
    r = tagging.predict("Angela Merkel met Emmanuel Macron in Paris to discuss the European Union.", "embedded-ner")
    found = {(e.label, e.text) for e in r.entities}
    assert ("PER", "Angela Merkel") in found and ("LOC", "Paris") in found
    for e in r.entities:
        assert r.text[e.start:e.end] == e.text
    assert all(d["entity"] in ("PER", "ORG", "LOC", "MISC") for d in r.highlighted())


def test_embedded_upos_tags_words():
    r = tagging.predict("The cat sat on the mat.", "embedded-upos")
    assert [w.label for w in r.words] == ["DET", "NOUN", "VERB", "ADP", "DET", "NOUN", "PUNCT"]
    assert len(r.highlighted()) == 7


def test_long_text_is_chunked_and_every_word_is_tagged():
    text = "Paris is a city in France . " * 400
    r = tagging.predict(text, "embedded-ner")
    assert len(r.words) == 2800 and any("chunks" in n for n in r.notices)
    assert sum(e.text == "Paris" for e in r.entities) > 350


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_clear_error(text):
    with pytest.raises(InputError, match="empty"):
        tagging.predict(text)


def test_emoji_and_mixed_scripts_do_not_crash():
    r = tagging.predict("Obama 😀 visited Берлин and 北京 yesterday", "embedded-ner")
    assert len(r.words) == len(tagging.split_words(tagging.load("embedded-ner").tokenizer, r.text))


def test_dotted_abbreviations_are_one_word():
    tok = tagging.load("embedded-ner").tokenizer
    words = [w for w, _, _ in tagging.split_words(tok, "a U.K. firm and the U.S.A. end.")]
    assert words == ["a", "U.K.", "firm", "and", "the", "U.S.A.", "end", "."]


def test_contractions_split_as_the_treebanks_do():
    """Issue 26: can't was tagged as can / ' / t. UD EWT and CoNLL split ca + n't, she + 's."""
    tok = tagging.load("embedded-upos").tokenizer
    text = "I can\u2019t say they don't know it's John's."
    words = tagging.split_words(tok, text)
    assert [w for w, _, _ in words] == ["I", "ca", "n\u2019t", "say", "they", "do", "n't", "know", "it", "'s", "John",
                                        "'s", "."]
    assert all(text[a:b] == w for w, a, b in words)  # offsets point at the text itself
    assert [w for w, _, _ in tagging.split_words(tok, "rock 'n' roll")] == ["rock", "'", "n", "'", "roll"]
