"""The answer every shipped example must give, written by hand (issue 26): a model or example change that
breaks one fails tests/test_examples.py (through the tabs' event functions) and tests/test_browser.py
(clicked in a real browser). One entry per example, in the order of the tab's EXAMPLES (QA: offline rows)."""

# fill-mask: per mask, words of which at least one must be in the top 5
FILL_MASK = [
    [["capital"]],
    [["place", "time", "job", "thing", "idea", "tradition"]],
    [["movie", "film"]],
    [["medication", "medicine", "drug", "prescription", "pill", "pills"]],
    [["coffee", "tea", "milk", "wine", "water"], ["food", "bread", "cake", "rice", "meat", "fruit"]],
    [["sense"]],
    [["than"]],
]
# QA (offline rows): the answer span, or None for "no answer"
QA = ["Brazil", "nine", "Alexander Graham Bell", "New Haven, Connecticut", None, "眉州眉山人"]
# tagging: (entity text, type) for NER rows, (word, tag) for POS rows; each must be in the output
TAGGING = [
    [("Angela Merkel", "PER"), ("Emmanuel Macron", "PER"), ("Paris", "LOC"), ("European Union", "ORG")],
    [("Apple", "ORG"), ("U.K.", "LOC"), ("Bloomberg News", "ORG")],
    [("fox", "NOUN"), ("jumps", "VERB"), ("lazy", "ADJ"), ("because", "SCONJ")],
    [("ca", "AUX"), ("n't", "PART"), ("believe", "VERB"), ("'s", "AUX"), ("three", "NUM"), ("books", "NOUN")],
    [("北京", "GPE"), ("清华大学", "ORG"), ("张伟", "PER")],
]
# prompt classification: the top label
PROMPT = ["positive", "negative", "negative", "negative", "negative", "Sports", "Business"]
# ChineseBERT inspect: (character, pinyin) pairs that must be read so (heteronyms by context: 银行 / 行走)
CHINESEBERT = [[("猫", "mao1"), ("喜", "xi3")], [("行", "hang2"), ("行", "xing2")], [("好", "hao3"), ("的", "de5")],
               [("猫", "mao1")]]
