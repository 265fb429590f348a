"""The import structure stays a stack: no import circle in ``conformance/`` or ``reference/``, and no module
outside ``reference/`` imports one of its private (``reference._*``) names.

Read from the source with :mod:`ast`, nothing is imported. An import inside a function counts as much as one
at the top of a module (the circles this test was written against, ``child``/``_tasks``,
``adapters.ray``/``ray_store`` and the report's ``results``/``render``/``export``, were all deferred imports);
an import under ``if TYPE_CHECKING:`` does not, since it never runs.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Container, Dict, Iterator, List, Sequence, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The packages that must have no import circle.
STACKED = ("conformance", "reference")
#: Where modules that may not import ``reference._*`` names live (everything of the project but reference/).
OUTSIDE_REFERENCE = ("conformance", "tests", "benchmarks", "examples", "ci")

#: One import: the dotted name imported, the line it is on.
Import = Tuple[str, int]


def modules(root: Path, packages: Sequence[str]) -> Dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file under the folders ``packages`` of ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _runs(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes under ``node`` that can run, at import time or later: all but ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
            yield from (n for orelse in child.orelse for n in [orelse, *_runs(orelse)])
            continue
        yield child
        yield from _runs(child)


def imports(name: str, path: Path, known: Container[str] = ()) -> List[Import]:
    """Every name the module ``name`` (at ``path``) imports, at module level or inside functions:
    ``import a.b`` gives ``a.b``; ``from a import b`` gives ``a.b`` when that is one of the ``known``
    modules, else both ``a`` and ``a.b`` (``b`` may be a module or a name of ``a``); relative imports are
    resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: List[Import] = []
    for node in _runs(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [f"{module}.{alias.name}" for alias in node.names if alias.name != "*"]
            if not names or any(full not in known for full in names):
                found.append((module, node.lineno))
            found += [(full, node.lineno) for full in names]
    return found


def import_graph(root: Path, packages: Sequence[str]) -> Dict[str, Set[str]]:
    """Module -> the modules of ``packages`` it imports (a ``from`` import of a name that is not a module
    counts as an import of the module that holds it)."""
    known = modules(root, packages)
    return {name: {target for target, _ in imports(name, path, known) if target in known and target != name}
            for name, path in known.items()}


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The import circles of ``graph``: its strongly connected components of more than one module, each
    sorted (Tarjan's algorithm, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def private_reference_imports(root: Path, packages: Sequence[str]) -> List[str]:
    """``path:line: name`` for each import, in the modules of ``packages``, of a ``reference._*`` name:
    a private module of ``reference`` or a private name of one of its modules (dunder names are public)."""
    found = []
    for name, path in modules(root, packages).items():
        for target, lineno in imports(name, path):
            parts = target.split(".")
            if parts[0] == "reference" and any(p.startswith("_") and not p.endswith("__") for p in parts[1:]):
                found.append(f"{path.relative_to(root)}:{lineno}: {target}")
    return found


def test_no_import_circle_in_conformance_or_reference():
    found = circles(import_graph(ROOT, STACKED))
    assert not found, ("import circles (an import inside a function counts): "
                       + "; ".join(" <-> ".join(c) for c in found)
                       + ". Move what both sides need into a module of its own that imports neither.")


def test_nothing_outside_reference_imports_its_private_names():
    found = private_reference_imports(ROOT, [p for p in OUTSIDE_REFERENCE if (ROOT / p).is_dir()])
    assert not found, ("modules outside reference/ import its private names (give the name a public home "
                       "in reference/, or stop using it):\n" + "\n".join(found))


def _package(tmp_path: Path, files: Dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("b_imports_a", [
    "from pkg import a\n",
    "def later():\n    from pkg.a import thing\n",  # a deferred import closes a circle too
    "from . import a\n",
    "from .a import thing\n",
], ids=["module-level", "in-a-function", "relative", "relative-from"])
def test_an_injected_circle_is_found(tmp_path, b_imports_a):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "import pkg.b\nthing = 1\n",
                               "pkg/b.py": b_imports_a, "pkg/c.py": "import pkg.a\n"})
    assert circles(import_graph(root, ["pkg"])) == [["pkg.a", "pkg.b"]]


def test_type_checking_imports_and_stacks_are_no_circle(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "from pkg.a import thing\n",  # a package importing its modules: no circle
        "pkg/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\nthing = 1\n",
        "pkg/b.py": "from pkg.a import thing\nclass B: ...\n",
    })
    assert circles(import_graph(root, ["pkg"])) == []


def test_an_injected_private_import_is_found(tmp_path):
    root = _package(tmp_path, {
        "user/ok.py": "import reference\nfrom reference import __version__\nfrom reference.frame import Frame\n",
        "user/bad.py": "import reference._x\nfrom reference.arena import _slot\n"
                       "def later():\n    from reference import _y\n",
    })
    assert private_reference_imports(root, ["user"]) == [
        "user/bad.py:1: reference._x", "user/bad.py:2: reference.arena._slot", "user/bad.py:4: reference._y"]
