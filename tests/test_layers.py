"""Imports point down the data flow: every ``ecgcmr`` module imports only from its own
layer or lower ones (the ordered list in docs/architecture.md, "## Layers"), never a
private name of another module, and no two modules import each other, even lazily."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = SRC / "ecgcmr"
DOC = REPO / "docs" / "architecture.md"


def doc_items() -> list[tuple[list[str], list[str]]]:
    """Per layer, lowest first: its units (the backticked names of its numbered item in
    the "## Layers" section, before the " — " description) and the units its
    description says it "never imports"."""
    text = DOC.read_text()
    section = text.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    items = re.findall(r"^\d+\. (.*)$", section, flags=re.M)
    assert items, f"{DOC}: no numbered list under '## Layers'"
    out = []
    for item in items:
        names, sep, description = item.partition(" — ")
        assert sep, f"{DOC}: layer item {item!r} has no ' — ' description"
        never = description.partition("never imports ")[2]
        out.append((re.findall(r"`([^`]+)`", names), re.findall(r"`([^`]+)`", never)))
    return out


def doc_layers() -> list[list[str]]:
    return [units for units, _ in doc_items()]


@cache
def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for f in sorted(PACKAGE.rglob("*.py")):
        parts = f.relative_to(SRC).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def unit(module: str) -> str:
    """``ecgcmr.io.cardiosoft`` -> ``io``; ``ecgcmr.ids`` -> ``ids``; the root -> ``ecgcmr``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every ``ecgcmr`` import of
    ``module``, anywhere in the file (function-level imports included)."""
    f = modules()[module]
    package = module if f.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "ecgcmr"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ecgcmr":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                # ``from ecgcmr import exclusions`` imports the module, not a name
                out.append((sub, None, node.lineno) if sub in modules() else (target, a.name, node.lineno))
    return out


def test_doc_lists_every_unit_once():
    listed = [u for layer in doc_layers() for u in layer]
    assert len(listed) == len(set(listed)), f"{DOC}: a unit is listed twice: {listed}"
    actual = {unit(m) for m in modules()}
    assert not actual - set(listed), f"{DOC} '## Layers' does not place: {sorted(actual - set(listed))}"
    assert not set(listed) - actual, f"{DOC} '## Layers' lists what is not in src/ecgcmr: {sorted(set(listed) - actual)}"


def test_imports_point_down_the_layers():
    rank = {u: i for i, layer in enumerate(doc_layers()) for u in layer}
    upward = []
    for m in modules():
        for target, name, line in imports(m):
            assert target in modules(), f"{modules()[m]}:{line}: imports {target}, which does not exist"
            if rank.get(unit(target), -1) > rank.get(unit(m), -1):
                upward.append(f"{m}:{line} ({unit(m)}) imports {target}{':' + name if name else ''} ({unit(target)})")
    assert not upward, "imports against the layer order of docs/architecture.md:\n" + "\n".join(upward)


def test_stages_after_training_never_import_what_their_layer_excludes():
    never = {u: set(excluded) for units, excluded in doc_items() for u in units}
    listed = {u for units in doc_layers() for u in units}
    assert set().union(*never.values()) <= listed, f"{DOC}: 'never imports' names an unknown unit"
    found = [f"{m}:{line} ({unit(m)}) imports {target}{':' + name if name else ''}"
             for m in modules() for target, name, line in imports(m) if unit(target) in never.get(unit(m), ())]
    assert not found, "imports docs/architecture.md says a layer never makes:\n" + "\n".join(found)


def test_no_private_names_across_modules():
    private = [f"{m}:{line} imports {name} from {target}"
               for m in modules() for target, name, line in imports(m)
               if name and name.startswith("_") and not name.startswith("__") and target != m]
    assert not private, "private names imported from another module:\n" + "\n".join(private)


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in imports(m) if t != m} for m in modules()}
    cycles, state = [], {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(path[path.index(t):] + [t]))
            elif t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_benchmarks_and_rule_scripts_import_no_private_names():
    """bench/ and workflow/scripts/ use the package as any caller would: a name they
    need is public (bench/ingest_ecg_ratio.py once took cardiosoft's _WHITESPACE)."""
    private = []
    for f in sorted([*(REPO / "bench").glob("*.py"), *(REPO / "workflow" / "scripts").glob("*.py")]):
        for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "ecgcmr":
                private += [f"{f.relative_to(REPO)}:{node.lineno} imports {a.name} from {node.module}"
                            for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not private, "private names imported from ecgcmr:\n" + "\n".join(private)
