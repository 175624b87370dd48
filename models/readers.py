"""Readers for every data format the app, the eval CLI and the recipes use. No model code here.

Malformed or missing files raise InputError (a message a user can act on), never SystemExit, so a
recipe or a test can call them like any function.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from models.errors import InputError

PROBES = Path(__file__).resolve().parent.parent / "samples" / "probes" / "cloze_probes.tsv"
ZH_PROBES = PROBES.with_name("zh_cloze_probes.tsv")
MAX_UPLOAD_BYTES = 20 * 2**20  # every uploaded table (few-shot examples, projector data); gradio enforces it too


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file not found: {path}")
    return path


def read_texts(path: str | Path, field: str = "text") -> list[str]:
    """Texts from a .txt / .jsonl / .jsonl.gz file, blank lines skipped."""
    path = _existing(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    if ".jsonl" in path.suffixes:
        texts = []
        for i, line in enumerate(lines, 1):
            try:
                texts.append(json.loads(line)[field])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(f"{path}:{i}: not a JSON object with a '{field}' field ({exc})") from exc
        return texts
    return lines


def read_probes(path: str | Path = PROBES) -> list[tuple[str, str, set[str]]]:
    """(kind, text with [MASK], accepted answers) per line of a probe TSV; # lines are comments."""
    rows = []
    for i, line in enumerate(_existing(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            try:
                kind, text, answers = line.split("\t")
            except ValueError:
                raise InputError(f"{path}:{i}: expected kind<TAB>text<TAB>answers") from None
            rows.append((kind, text, {a.strip() for a in answers.split(",")}))
    return rows


def read_squad(path: str | Path) -> list[dict]:
    """SQuAD-format JSON (v1.1 / v2.0 / CMRC) -> [{id, title, article, question, context, answers}]."""
    rows = []
    try:
        data = json.loads(_existing(path).read_text(encoding="utf-8"))["data"]
        for a, article in enumerate(data):
            for para in article["paragraphs"]:
                for q in para["qas"]:
                    rows.append({"id": q["id"], "title": article.get("title", ""), "article": a,
                                 "question": q["question"], "context": para["context"],
                                 "answers": [x["text"] for x in q.get("answers", [])],
                                 "answer_starts": [x["answer_start"] for x in q.get("answers", [])]})
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a SQuAD-format file ({type(exc).__name__}: {exc})") from None
    return rows


def iob1_to_bio(tags: list[str]) -> list[str]:
    """CoNLL-2003's IOB1 (I- starts an entity unless it continues one of the same type) -> BIO."""
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def read_weibo(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Weibo NER (`<char><position-in-word>\t<BIO tag>` per line, blank line between messages)
    -> [(characters, tags)] per message."""
    sents, chars, tags = [], [], []
    for n, line in enumerate(_existing(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            if chars:
                sents.append((chars, tags))
            chars, tags = [], []
            continue
        cell, _, tag = line.rpartition("\t")
        if not cell or not tag or not cell[-1].isdigit():
            raise InputError(f"{path}, line {n}: expected '<char><digit>\\t<tag>', got {line[:40]!r}")
        chars.append(cell[:-1] or cell)
        tags.append(tag.strip())
    if chars:
        sents.append((chars, tags))
    if not sents:
        raise InputError(f"{path}: no sentences found")
    return sents


def split_by_article(rows: list[dict], every: int = 5) -> tuple[list[dict], list[dict]]:
    """(train, validation): every `every`-th article is held out (CMRC has no train set here, only its trial set)."""
    return ([r for r in rows if r["article"] % every != every - 1], [r for r in rows if r["article"] % every == every - 1])


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """CoNLL-2003 `WORD POS CHUNK NER` files -> [(words, BIO tags)] per sentence."""
    sents, words, tags = [], [], []
    for line in open(_existing(path), encoding="utf-8"):
        parts = line.split()
        if not parts or parts[0] == "-DOCSTART-":
            if words:
                sents.append((words, iob1_to_bio(tags)))
            words, tags = [], []
            continue
        words.append(parts[0])
        tags.append(parts[-1])
    if words:
        sents.append((words, iob1_to_bio(tags)))
    return sents


def read_conllu(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """CoNLL-U -> [(syntactic words, UPOS)]. Multi-word token lines (1-2) and empty nodes (1.1)
    are skipped: UPOS belongs to the syntactic words, as UD scores it."""
    sents, words, tags = [], [], []
    for line in open(_existing(path), encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if words:
                sents.append((words, tags))
            words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10 or "-" in cols[0] or "." in cols[0]:
            continue
        words.append(cols[1])
        tags.append(cols[3])
    if words:
        sents.append((words, tags))
    return sents


def read_labelled_tsv(path: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """SST-2 (`sentence\\tlabel`), ChnSentiCorp (`label\\ttext_a`) or any `text\\tlabel` TSV -> [(text, label name)].
    Labels 0 / 1 are the sentiment sets' negative / positive; other labels are names (e.g. BBC topics)."""
    names = {"0": "negative", "1": "positive"}
    rows = []
    with open(_existing(path), encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        text_col = next((c for c in ("sentence", "text_a", "text") if c in header), None)
        if text_col is None or "label" not in header:
            raise InputError(f"{path}: the header needs a label column and one of sentence / text_a / text")
        ti, li = header.index(text_col), header.index("label")
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) > max(ti, li) and cols[li].strip():
                rows.append((cols[ti].strip(), names.get(cols[li], cols[li].strip())))
            if limit and len(rows) >= limit:
                break
    return rows


def read_chnsenticorp(path: str | Path) -> list[tuple[str, int]]:
    """ChnSentiCorp TSV (`label<TAB>text_a`) -> [(text, label)]."""
    out = []
    for i, r in enumerate(_existing(path).read_text(encoding="utf-8").splitlines()[1:], 2):
        if "\t" in r:
            label, text = r.split("\t", 1)
            if label not in ("0", "1"):
                raise InputError(f"{path}:{i}: the label must be 0 or 1, got {label!r}")
            out.append((text, int(label)))
    return out


SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical bar"}


def _header_line(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                return line
    return ""


def sniff_separator(path: Path) -> str:
    """The separator of an uploaded table, read from its header line: the one of , tab ; | it uses most
    (tab first for .tsv/.tab/.txt and comma for .csv when the header has one); comma when it has none (a
    one-column file)."""
    header = _header_line(path)
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab", ".txt") and "\t" in header:
        return "\t"
    if suffix == ".csv" and "," in header:
        return ","
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: (counts[sep], sep == ","))
    return best if counts[best] else ("\t" if suffix in (".tsv", ".tab") else ",")


def read_upload_table(path: str | Path):
    """An uploaded CSV/TSV read as data only (strings; nothing evaluated) -> pandas DataFrame.
    One rule for every upload: at most MAX_UPLOAD_BYTES; the separator sniffed from the header line
    (, tab ; |); tab-separated files are read without quoting (SST-2 style text keeps its quotes).
    The separator used is kept in `df.attrs["separator"]`."""
    import pandas as pd

    if path is None:
        raise InputError("No file uploaded.")
    if not isinstance(path, (str, Path)):  # a gradio upload object: its temp file path
        path = path.name
    path = _existing(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise InputError(f"The file is {size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
    sep = sniff_separator(path)
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, quoting=3 if sep == "\t" else 0)
    except Exception as exc:  # any parse failure of an uploaded file is the user's file, not a bug
        raise InputError(f"Could not read the file as a {SEPARATORS[sep]}-separated table: {exc}") from None
    if df.empty:
        raise InputError("The file has no rows.")
    df.attrs["separator"] = sep
    return df


def read_columns(path, need: dict[str, tuple[str, ...]], optional: dict[str, tuple[str, ...]] | None = None):
    """An uploaded table with the columns a task needs, found by name (case and spaces ignored):
    `need` / `optional` map each column's name to other names accepted for it. Returns a DataFrame with
    exactly those columns under their own names; a file without them is refused with the columns it has."""
    df = read_upload_table(path)
    by_name = {str(c).strip().lower(): c for c in df.columns}
    found, missing = {}, []
    for name, aliases in {**need, **(optional or {})}.items():
        col = next((by_name[a] for a in (name, *aliases) if a in by_name), None)
        if col is not None:
            found[name] = col
        elif name in need:
            missing.append(f"'{name}'" + (f" (or {', '.join(repr(a) for a in aliases)})" if aliases else ""))
    if missing:
        shown = ", ".join(repr(str(c)) for c in df.columns[:10]) + (", …" if len(df.columns) > 10 else "")
        raise InputError(f"The file needs a column named {' and '.join(missing)}. It has {len(df.columns)} "
                         f"column(s), read as {SEPARATORS[df.attrs['separator']]}-separated: {shown}. Name the "
                         f"columns in the file's first line.")
    out = df[list(found.values())].copy()
    out.columns = list(found)
    out.attrs = df.attrs
    return out
