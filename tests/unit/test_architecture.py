"""The package architecture: the layer contract holds (import-linter), the packages form no import cycle, and
an import of our own packages inside a function says why it is lazy.

A function-level import of our packages is allowed only where an optional or heavy dependency must stay out
of a light path (the CLI's ``--help``, loading ``orchestration.definitions``, the service start), or where a
module-level import would close a cycle between two modules of one package. It carries the reason as a
trailing ``# lazy: ...`` comment on its (first) line; anything else belongs with the module's imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

LAZY_MARK = "# lazy:"
PACKAGES: tuple[str, ...] = tuple(
    tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "root_packages"
    ]
)


def _sources() -> Iterator[tuple[str, Path]]:
    """(dotted module name, path) of every module of our packages."""
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


def _target(node: ast.Import | ast.ImportFrom, module: str, path: Path) -> list[str]:
    """The dotted modules an import statement names (relative imports resolved)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not node.level:
        return [node.module or ""]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return [f"{base}.{node.module}" if node.module else base]


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement with whether it sits inside a function (at any depth)."""

    def visit(
        node: ast.AST, in_function: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, in_function
            inner = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            yield from visit(child, inner)

    yield from visit(tree, False)


def _our_imports() -> Iterator[tuple[Path, ast.Import | ast.ImportFrom, bool, str, list[str]]]:
    """(path, node, inside a function, importing package, imported packages) for each import of ours."""
    for module, path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node, in_function in _imports(tree):
            targets = [t.split(".")[0] for t in _target(node, module, path)]
            ours = [t for t in targets if t in PACKAGES]
            if ours:
                yield path, node, in_function, module.split(".")[0], ours


def test_function_level_imports_of_our_packages_say_why_they_are_lazy() -> None:
    unexplained = []
    for path, node, in_function, _, _ in _our_imports():
        if not in_function:
            continue
        line = path.read_text(encoding="utf-8").splitlines()[node.lineno - 1]
        if LAZY_MARK not in line:
            unexplained.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {line.strip()}")
    assert not unexplained, (
        f"{len(unexplained)} function-level import(s) of our packages without a `{LAZY_MARK} <reason>` "
        "comment: move each to the module's imports, or say which heavy or optional dependency (or which "
        "module cycle) keeps it lazy:\n" + "\n".join(unexplained)
    )


def test_import_contract_holds() -> None:
    """The layers of pyproject.toml's [tool.importlinter] (`make lint` runs the same command)."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    if not lint_imports.exists():
        pytest.skip(f"{lint_imports} not installed (the dev extra: pip install -e '.[dev]')")
    proc = subprocess.run(
        [str(lint_imports)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, (
        f"lint-imports exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of ``graph`` (every node, singletons included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return components


def _cycle_in(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle through the component's first node, as a path that returns to it."""
    start = component[0]
    members = set(component)
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to start
        following = []
        for node in frontier:
            for succ in sorted(graph[node] & members):
                if succ == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if succ not in parents:
                    parents[succ] = node
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {start} in {component}")  # pragma: no cover


def test_package_import_graph_has_no_cycle() -> None:
    """Module-level and function-level imports together: a lazy import hides a cycle from Python, not from
    the architecture."""
    graph: dict[str, set[str]] = {}
    sites: dict[tuple[str, str], str] = {}
    for path, node, _, source, targets in _our_imports():
        for target in targets:
            graph.setdefault(source, set())
            graph.setdefault(target, set())
            if target != source:
                graph[source].add(target)
                sites.setdefault((source, target), f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert set(graph) <= set(PACKAGES)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1]
    messages = []
    for component in cycles:
        cycle = _cycle_in(component, graph)
        edges = [f"  {a} -> {b} ({sites[a, b]})" for a, b in zip(cycle, cycle[1:])]
        messages.append(
            f"{' -> '.join(cycle)} (packages in the cycle: {', '.join(component)}):\n"
            + "\n".join(edges)
        )
    assert not cycles, "import cycle(s) between our packages:\n" + "\n".join(messages)


def test_cycle_finder_names_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    components = _strongly_connected(graph)
    assert sorted(components) == [["a", "b", "c"], ["d"], ["e"]]
    assert _cycle_in(["a", "b", "c"], graph) == ["a", "b", "c", "a"]
