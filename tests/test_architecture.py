"""The layout rules of docs/architecture.md, read off the source: no import circle, nothing below the
facade imports it, no package reaches into another's private names, computation never imports
presentation except the delegating methods named there, and no source file is over 900 lines."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "insightkit"
FACADE = {"insightkit", "insightkit.analysis"}
#: Modules allowed to import presentation, lazily, inside a method (docs/architecture.md).
PRESENTATION_CALLERS = {
    "insightkit.analysis",
    "insightkit.summary",
    "insightkit.compare.result",
    "insightkit.cli",
}
MAX_LINES = 900


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _imports(module: str, path: Path) -> Iterator[tuple[str, list[str], bool]]:
    """(imported module, names taken from it, at top level?) for every insightkit import, skipping
    those under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    top = {id(node) for node in tree.body}
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("insightkit"):
                    yield alias.name, [], id(node) in top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if not base.startswith("insightkit"):
                continue
            names = [a.name for a in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in MODULES]
            if len(submodules) == len(names):
                for sub in submodules:
                    yield sub, [], id(node) in top
            else:
                yield base, names, id(node) in top


GRAPH = {module: list(_imports(module, path)) for module, path in MODULES.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_in_a_circle() -> None:
    edges = {m: {t for t, _, top in imports if top and t in MODULES} for m, imports in GRAPH.items()}
    assert _cycles(edges) == []


def test_no_package_imports_another_in_a_circle() -> None:
    """Packages (``insightkit.rdb``, ``insightkit.table``…), counting imports inside functions too."""
    edges: dict[str, set[str]] = {}
    for module, imports in GRAPH.items():
        targets = {_package(t) for t, _, _ in imports} - {_package(module)}
        edges.setdefault(_package(module), set()).update(t for t in targets if t not in FACADE)
    assert _cycles(edges) == []


def test_nothing_below_the_facade_imports_it() -> None:
    offenders = [
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if module not in FACADE | {"insightkit.cli", "insightkit.__main__"}
        for target, _, _ in imports
        if target in FACADE
    ]
    assert offenders == []


def test_no_package_uses_another_packages_private_names() -> None:
    shared = {"insightkit._text", "insightkit._files", "insightkit._frames", "insightkit._version"}
    offenders = []
    for module, imports in GRAPH.items():
        for target, names, _ in imports:
            if _package(target) == _package(module) or target in shared:
                continue
            if target.rsplit(".", 1)[-1].startswith("_"):
                offenders.append(f"{module} imports the private module {target}")
            offenders += [f"{module} imports {target}.{n}" for n in names if n.startswith("_")]
    assert offenders == []


def test_computation_never_imports_presentation() -> None:
    offenders = [
        f"{module} imports {target}"
        for module, imports in GRAPH.items()
        if not module.startswith("insightkit.present") and module not in PRESENTATION_CALLERS
        for target, _, _ in imports
        if target.startswith("insightkit.present")
    ]
    assert offenders == []
    # and the allowed callers import it only inside a method, never at import time
    eager = [
        f"{module} imports {target} at import time"
        for module in PRESENTATION_CALLERS
        for target, _, top in GRAPH.get(module, [])
        if target.startswith("insightkit.present") and top
    ]
    assert eager == []


@pytest.mark.parametrize("suffixes", [(".py", ".pyx", ".pxd", ".pyi")])
def test_no_source_file_is_over_900_lines(suffixes: tuple[str, ...]) -> None:
    roots = [PACKAGE, ROOT / "tests", ROOT / "benchmarks"]
    long = [
        f"{path.relative_to(ROOT)}: {lines}"
        for root in roots
        for path in root.rglob("*")
        if path.suffix in suffixes
        and (lines := len(path.read_text(encoding="utf-8", errors="replace").splitlines())) > MAX_LINES
    ]
    assert long == []
