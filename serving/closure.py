"""Which of our source files a Bento must carry: the modules the service imports, transitively.

The Bento ships exactly the modules ``serving.service`` reaches through imports (module level and inside
functions), with the ``__init__.py`` of every package on the way, and nothing else: no CLI, no audit tool, no
Dagster layer. Found by reading the sources (``ast``), so building a Bento imports none of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path, module: str) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{node.module}" if node.module else parent
            else:
                base = node.module or ""
            found.add(base)
            # `from pkg import module` names a submodule as often as an attribute
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def module_closure(root: Path, entry_modules: Iterable[str]) -> list[Path]:
    """Every source file under ``root`` that the entry modules import, directly or not, sorted."""
    files: set[Path] = set()
    pending = list(entry_modules)
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(root, module)
        if path is None:  # a third-party module, or an attribute named in a from-import
            continue
        files.add(path)
        parts = module.split(".")
        for i in range(1, len(parts)):  # the packages on the way are imported first
            init = _module_file(root, ".".join(parts[:i]))
            if init is not None:
                files.add(init)
        pending.extend(_imported_modules(path, module) - seen)
    return sorted(files)
