"""The library's import graph: no cycles (deferred imports included), the CLI and the
domains at the edges.

Every ``import`` / ``from ... import`` executed at run time counts, at module level or
inside a function (a deferred import is still an edge); imports under
``if TYPE_CHECKING:`` never run and do not count. Importing ``a.b.c`` also imports the
packages ``a`` and ``a.b``, so those are edges too (except a module's own ancestors, which
Python has initialised before the module runs). Lazy registry targets
(``"package.module:attr"`` strings) count as imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("manifold_fm", "discrete_fm")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``tree`` imports at run time."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith(PACKAGES)
            and ":" in node.value
            and " " not in node.value
        ):
            found.add(node.value.split(":", 1)[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> modules it imports (with their parent packages), for both packages."""
    paths = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    names = {_module_name(p, root): p for p in paths}
    known = set(names)
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        deps = _imports(ast.parse(path.read_text(), str(path)), known)
        for dep in list(deps):
            parts = dep.split(".")
            deps.update(".".join(parts[:i]) for i in range(1, len(parts)))
        own_ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = {d for d in deps if d != name and d not in own_ancestors and d in known}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    cycles.append(sorted(comp))
    return cycles


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_library_has_no_import_cycle(graph):
    assert find_cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_through_a_deferred_import(tmp_path):
    pkg = tmp_path / "manifold_fm"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from manifold_fm.sub.b import f\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from manifold_fm import a\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from manifold_fm import a\n"
    )
    (tmp_path / "discrete_fm").mkdir()
    cycles = find_cycles(import_graph(tmp_path))
    assert cycles == [["manifold_fm.a", "manifold_fm.sub.b"]]


def test_only_the_cli_imports_the_cli(graph):
    offenders = {
        m: sorted(d for d in deps if d.startswith("manifold_fm.cli"))
        for m, deps in graph.items()
        if not m.startswith("manifold_fm.cli")
    }
    assert {m: d for m, d in offenders.items() if d} == {}


def test_the_core_imports_no_domain(graph):
    """Only the CLI and the domains themselves may import a domain package."""
    domains = ("manifold_fm.proteins", "discrete_fm")
    offenders = {}
    for m, deps in graph.items():
        if m.startswith(("manifold_fm.cli", *domains)):
            continue
        bad = sorted(d for d in deps if d.startswith(domains))
        if bad:
            offenders[m] = bad
    assert offenders == {}


def test_the_layout_checks_catch_a_core_module_importing_the_cli(tmp_path):
    pkg = tmp_path / "manifold_fm"
    (pkg / "cli").mkdir(parents=True)
    (tmp_path / "discrete_fm").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "cli" / "__init__.py").write_text("")
    (pkg / "cli" / "registry.py").write_text("")
    (pkg / "core.py").write_text("X = 'manifold_fm.cli.registry:MODELS'\n")
    assert import_graph(tmp_path)["manifold_fm.core"] == {
        "manifold_fm.cli",
        "manifold_fm.cli.registry",
    }


def _imported_names(path: Path) -> set[str]:
    """Every module name ``path`` imports (any depth, deferred included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def _importers(folder: Path, prefix: str, skip: Path | None = None) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        if skip is not None and skip in path.parents:
            continue
        if any(n == prefix or n.startswith(prefix + ".") for n in _imported_names(path)):
            found.append(str(path.relative_to(folder)))
    return found


def test_benchmarks_use_the_library_not_the_cli():
    assert _importers(ROOT / "benchmarks", "manifold_fm.cli") == []


def test_only_the_benchmark_tests_import_benchmarks():
    tests = ROOT / "tests"
    assert _importers(tests, "benchmarks", skip=tests / "benchmarks") == []


def test_the_importer_scan_sees_a_deferred_import(tmp_path):
    (tmp_path / "a.py").write_text("def f():\n    from manifold_fm.cli.registry import MODELS\n")
    (tmp_path / "b.py").write_text("import manifold_fm.clip\n")
    assert _importers(tmp_path, "manifold_fm.cli") == ["a.py"]
