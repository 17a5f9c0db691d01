"""No two modules of app/ import each other, directly or round a longer circle. Every import
statement counts (lazy ones and those only for type checking too): a circle means two modules
that cannot be understood, tested or moved apart."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"

# Circles other work removes (issue 22); none may be added, and none in app/ui.
KNOWN = {
    frozenset({"app.core.model_settings", "app.core.request"}),
    frozenset({"app.runtime.lease", "app.runtime.runtime"}),
}


def _module_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = APP) -> dict[str, set[str]]:
    """module -> the modules of `root` it imports (`from package import module` included)."""
    modules = {_module_of(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    top = root.name
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, `level - 1` packages up
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
                named = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t for t in named if t in modules] or [base]
            for target in targets:
                while target and target not in modules:  # a name inside a module: the module
                    target = target.rpartition(".")[0]
                if target and target.split(".")[0] == top and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_in_app_imports_itself_round_a_circle():
    new = [sorted(c) for c in cycles(import_graph()) if c not in KNOWN]
    assert not new, f"import circles: {new}"


def test_the_ui_has_no_circle_at_all():
    ui = [sorted(c) for c in cycles(import_graph()) if any(m.startswith("app.ui") for m in c)]
    assert not ui, ui


def test_a_circle_is_found_however_it_is_written(tmp_path):
    pkg = tmp_path / "app"
    (pkg / "ui").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ui" / "__init__.py").write_text("")
    (pkg / "ui" / "page.py").write_text("from app.ui.replies import Replies\n")
    # lazily, for type checking only, and as `from package import module`
    (pkg / "ui" / "replies.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.ui import page\n"
    )
    (pkg / "ui" / "view.py").write_text("def f():\n    from .page import x\n")
    graph = import_graph(pkg)
    assert graph["app.ui.view"] == {"app.ui.page"}
    assert cycles(graph) == [frozenset({"app.ui.page", "app.ui.replies"})]
