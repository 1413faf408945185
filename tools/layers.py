"""The import structure of the package, from its own source: which module imports which, and
whether any of them import each other in a circle.

The package lives in five top-level folders (``partialloading/`` and ``formulations/``,
``solvers/``, ``validation/``, ``instances/``, installed as ``partialloading.formulations``,
``partialloading.solvers``, ...); this reads every module of them and resolves its imports
(relative ones too, function-level ones too) to the package's modules. The imports under
``if TYPE_CHECKING:`` count as well: a layer that names a type of a layer above it depends on it
(the data model must not even name its plug-ins); ``--runtime`` leaves them out. A circle is a
strongly connected set of two or more modules.

Run::

    python tools/layers.py            # the circles (none, one line) and the largest files and functions
    python tools/layers.py --graph    # every module and what it imports
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent

FOLDERS = {
    "partialloading": "partialloading",
    "formulations": "partialloading.formulations",
    "solvers": "partialloading.solvers",
    "validation": "partialloading.validation",
    "instances": "partialloading.instances",
}
"""Each top-level folder of the repository and the package it installs as (pyproject.toml's
``package-dir``)."""

MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Module:
    """One module of the package: its dotted name, its file and whether it is a package's
    ``__init__``."""

    name: str
    path: Path
    package: bool


def modules(root: Path = ROOT) -> dict[str, Module]:
    """Every module of the package, by dotted name."""
    found: dict[str, Module] = {}
    for folder, prefix in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            package = parts[-1] == "__init__"
            dotted = ".".join((prefix, *(parts[:-1] if package else parts)))
            found[dotted] = Module(dotted, path, package)
    return found


def _nodes(tree: ast.AST, runtime: bool) -> Iterator[ast.AST]:
    """Every node of ``tree`` (``runtime``: except the bodies of ``if TYPE_CHECKING:`` blocks)."""
    if not runtime:
        yield from ast.walk(tree)
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports(module: Module, known: dict[str, Module], runtime: bool = False) -> set[str]:
    """The package's modules that ``module`` imports (``runtime``: when it runs)."""
    tree = ast.parse(module.path.read_text("utf-8"))
    here = module.name if module.package else module.name.rpartition(".")[0]
    out: set[str] = set()
    for node in _nodes(tree, runtime):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import module` imports the module; otherwise a name of `base`.
                target = f"{base}.{alias.name}"
                if target in known:
                    out.add(target)
                elif base in known:
                    out.add(base)
    out.discard(module.name)
    return out


def import_graph(root: Path = ROOT, runtime: bool = False) -> nx.DiGraph:
    """The package's modules and their imports (an edge ``a → b``: ``a`` imports ``b``;
    ``runtime``: the imports under ``if TYPE_CHECKING:`` left out)."""
    known = modules(root)
    graph = nx.DiGraph()
    for name, module in known.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in imports(module, known, runtime))
    return graph


def circles(graph: nx.DiGraph) -> list[list[str]]:
    """Sets of modules that import each other, directly or through others (sorted)."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1)


def long_files(root: Path = ROOT, limit: int = MAX_FILE_LINES) -> list[tuple[int, str]]:
    """``(lines, file)`` of the package's files longer than ``limit`` lines."""
    out = []
    for module in modules(root).values():
        lines = len(module.path.read_text("utf-8").splitlines())
        if lines > limit:
            out.append((lines, str(module.path.relative_to(root))))
    return sorted(out, reverse=True)


def long_functions(root: Path = ROOT, limit: int = MAX_FUNCTION_LINES) -> list[tuple[int, str]]:
    """``(lines, file:line name)`` of the package's functions longer than ``limit`` lines."""
    out = []
    for module in modules(root).values():
        for node in ast.walk(ast.parse(module.path.read_text("utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    out.append((lines, f"{module.path.relative_to(root)}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", action="store_true", help="print every module and what it imports")
    parser.add_argument("--runtime", action="store_true", help="leave out the imports under `if TYPE_CHECKING:`")
    args = parser.parse_args()
    graph = import_graph(runtime=args.runtime)
    if args.graph:
        for name in sorted(graph):
            print(f"{name}: {', '.join(sorted(graph.successors(name))) or '-'}")
        return 0
    found = circles(graph)
    print(f"{graph.number_of_nodes()} modules, {graph.number_of_edges()} imports, {len(found)} circle(s)")
    for circle in found:
        print("  circle: " + " <-> ".join(circle))
    for what, rows, limit in (
        ("files", long_files(), MAX_FILE_LINES),
        ("functions", long_functions(), MAX_FUNCTION_LINES),
    ):
        print(f"{what} over {limit} lines: {len(rows)}")
        for lines, where in rows:
            print(f"  {lines:5d} {where}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
