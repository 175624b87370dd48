"""The structure the code promises (README "Layout"): no import cycle, views that never tokenize user text
themselves, capabilities read from the registry only, small files and functions, and a new checkpoint that
appears everywhere from its one registry row."""
import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "app.py", *sorted((ROOT / "models").rglob("*.py")), *sorted((ROOT / "tabs").rglob("*.py"))]
MAX_FILE_LINES, MAX_FUNCTION_LINES = 450, 80


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the product modules it imports (at the top or inside a function: both can form a cycle)."""
    mods = {_module(p): p for p in PRODUCT if p.name != "app.py"}
    graph = {m: set() for m in mods}
    for m, path in mods.items():
        package = m if path.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[m] |= {t for t in targets if t in mods and t != m}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_models_and_tabs_import_no_cycle_and_models_never_import_the_ui():
    graph = import_graph()
    assert len(graph) > 40 and graph["models.inside.attention"]  # the walk sees the code
    assert cycles(graph) == []
    for m, targets in graph.items():
        if m.startswith("models"):
            assert not any(t.startswith("tabs") for t in targets), m


def test_views_read_traces_and_capabilities_come_from_the_registry():
    """No view tokenizes text itself (models/trace.py and the task modules do), no path prefix or name decides
    what a model can do, no dispatch through importlib strings."""
    tokenizes = re.compile(r"\b(tokenizer|tok)\(")
    for path in sorted((ROOT / "models" / "inside").glob("*.py")):
        assert not tokenizes.search(path.read_text(encoding="utf-8")), path.name
    rules = {r"startswith\(\s*[\"']zh/": "a path prefix", r"importlib\.import_module": "importlib dispatch",
             r"[\"'](ner|pos)[\"']\s+in\s+\w+\.(lower|name)": "a name heuristic",
             r"re\.search\(\s*[\"']pos": "a name heuristic"}
    for path in PRODUCT:
        text = path.read_text(encoding="utf-8")
        for pattern, what in rules.items():
            assert not re.search(pattern, text), f"{path.relative_to(ROOT)}: {what}"


def test_no_product_file_over_450_lines_and_no_function_over_80():
    long_files, long_functions = [], []
    for path in PRODUCT:
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_FILE_LINES:
            long_files.append(path.name)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.name}:{node.name}")
    assert long_files == [] and long_functions == []


@pytest.fixture
def fake_fill_mask_row(monkeypatch):
    """A new Hub fill-mask checkpoint, added as one registry row and nothing else."""
    from models import registry

    row = registry.Checkpoint("fill-mask", "acme/bert-new", registry.Source.HUB, "acme/bert-new",
                              "a new BERT fill-mask model (Hub)")
    monkeypatch.setattr(registry, "CHECKPOINTS", [*registry.CHECKPOINTS, row])
    return row


def _dropdown_values(demo) -> list[set[str]]:
    import gradio as gr

    out = []
    for block in demo.blocks.values():
        if isinstance(block, gr.Dropdown):
            out.append({c[1] if isinstance(c, (tuple, list)) else c for c in block.choices})
    return out


def test_a_new_checkpoint_row_appears_in_its_tab_every_view_batch_mode_the_fixtures_and_the_readme(
        fake_fill_mask_row):
    import app
    from models import registry

    sys.path.insert(0, str(ROOT / "tests"))
    import hub_fixtures

    row = fake_fill_mask_row
    as_view_choice = registry.choice(row.task, row.name)
    lists = _dropdown_values(app.build_app())
    tab_lists = [v for v in lists if "embedded-general" in v]  # the fill-mask tab's (and the prompt tab's) model
    view_lists = [v for v in lists if registry.choice(row.task, "embedded-general") in v]  # every view's
    assert len(tab_lists) >= 3 and len(view_lists) >= 4
    assert all(row.name in v for v in tab_lists) and all(as_view_choice in v for v in view_lists)
    # batch mode: the dropdown above (it opens on the sentiment task) and the model layer's check
    from models.inside import batch

    assert row.name in batch.models_for("sentiment")
    model, tok = hub_fixtures.checkpoints([row])[row.location]
    assert type(model).__name__ == "BertForMaskedLM" and tok.mask_token == "[MASK]"
    assert f"| fill-mask | `{row.name}` | bert | Hugging Face Hub |" in registry.markdown_table()


def test_every_shipped_weight_file_has_its_lineage():
    """weights/provenance.json (tools/provenance.py): for every weight file, the command that trained it, the
    command that evaluates it (naming a registry model), and the sha256 of each data file it was trained from;
    where a data file is on this machine, its hash is the recorded one."""
    import json

    from models import registry
    from tools import provenance

    recorded = json.loads((ROOT / "weights" / "provenance.json").read_text(encoding="utf-8"))
    shipped = {str(p.relative_to(ROOT / "weights")) for p in (ROOT / "weights").rglob("*.safetensors")}
    assert set(recorded) == shipped
    models = {c.name for c in registry.CHECKPOINTS}
    for name, entry in recorded.items():
        # trained by a recipe, or by the fine-tuning lab's own code (the supervised backend: what the lab runs)
        assert entry["train"].startswith(("python -m recipes.", "python -m models.lab ")), name
        assert entry["evaluate"].startswith("python -m "), name
        named = re.search(r"--model (\S+)", entry["evaluate"])
        assert named is None or named.group(1) in models, name
        assert entry["data"] and all(re.fullmatch(r"[0-9a-f]{64}", d or "") for d in entry["data"].values()), name
        for ref, digest in entry["data"].items():
            if provenance.resolve(ref).is_file():
                assert provenance.sha256(provenance.resolve(ref)) == digest, ref
