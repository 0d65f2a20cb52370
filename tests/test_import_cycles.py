"""The import graph of every mm package: no cycles, and no package importing upward.

Built from the source (ast) of ``packages/*/src`` and ``plugins/*/src``: every ``import`` and ``from ... import``
statement counts, those inside functions included (a function-level import only delays a cycle to the first
call). ``from a.b import c`` is an edge to module ``a.b.c`` when that is a module, else to ``a.b``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("packages/*/src"), *ROOT.glob("plugins/*/src")])

#: Package -> the mm packages it must not import (the layering of ARCHITECTURE.md: mm-core at the bottom).
FORBIDDEN = {
    "mm_core": {"mm_models", "mm_retarget", "mm_sim", "mm_rl", "mm_validate", "mm_view"},
    "mm_models": {"mm_retarget", "mm_sim", "mm_rl", "mm_validate", "mm_view"},
    "mm_sim": {"mm_rl", "mm_validate", "mm_retarget", "mm_view"},
    "mm_retarget": {"mm_sim", "mm_rl", "mm_validate", "mm_view"},
}
#: Module -> packages it may import despite ``FORBIDDEN``, and why. None: the task-term conformance suites, which
#: run mm-sim's env, live in ``mm_sim.testing``, so mm-core's kit (``mm_core.testing``) imports no other mm package.
ALLOWED: dict[str, set[str]] = {}
#: Packages that may use mm-rl only through its public API: ``from mm_rl import NAME`` with NAME in ``__all__``.
PUBLIC_API_ONLY = ("mm_validate", "mm_view")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    names: tuple[str, ...]  # the names of ``from target import ...`` (empty for ``import target``)
    where: str  # file:line


def modules(sources: list[Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the ``src`` directories."""
    out = {}
    for src in sources:
        for path in src.rglob("*.py"):
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def edges(mods: dict[str, Path]) -> Iterator[Edge]:
    """Every import statement of every module, as an edge to the mm module it loads."""
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in mods:
                        yield Edge(module, alias.name, (), where)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(module, path, node)
                if target not in mods:
                    continue
                names = tuple(a.name for a in node.names)
                submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
                for sub in submodules:
                    yield Edge(module, sub, (), where)
                rest = tuple(n for n in names if f"{target}.{n}" not in mods)
                if rest or not submodules:
                    yield Edge(module, target, rest, where)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as the modules along it (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _graph(all_edges: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in all_edges:
        graph.setdefault(e.source, set()).add(e.target)
    return graph


def _public_api(mods: dict[str, Path]) -> set[str]:
    """``mm_rl.__all__``, read from its source (a literal list, or ``sorted(<dict literal>)``)."""
    tree = ast.parse(mods["mm_rl"].read_text())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    values[t.id] = node.value
    value = values["__all__"]
    if isinstance(value, ast.Call):  # sorted(_API)
        value = values[value.args[0].id]
    return set(ast.literal_eval(value))


def test_no_import_cycles() -> None:
    mods = modules(SOURCES)
    assert "mm_rl.cli" in mods and "mm_core" in mods, "the package sources were not found"
    all_edges = list(edges(mods))
    cycle = find_cycle(_graph(all_edges))
    if cycle:
        where = {(e.source, e.target): e.where for e in all_edges}
        steps = [f"{a} -> {b} ({where[a, b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
        raise AssertionError("import cycle:\n  " + "\n  ".join(steps))


def test_no_package_imports_upward() -> None:
    mods = modules(SOURCES)
    api = _public_api(mods)
    wrong = []
    for e in edges(mods):
        src, dst = e.source.split(".")[0], e.target.split(".")[0]
        if dst in FORBIDDEN.get(src, ()) and dst not in ALLOWED.get(e.source, ()):
            wrong.append(f"{e.where}: {e.source} imports {e.target} ({src} must not import {dst})")
        if src in PUBLIC_API_ONLY and dst == "mm_rl" and (e.target != "mm_rl" or not set(e.names) <= api):
            what = f"from {e.target} import {', '.join(e.names)}" if e.names else f"import {e.target}"
            wrong.append(f"{e.where}: {what} (use only mm_rl's public API: from mm_rl import {sorted(api)})")
    assert not wrong, "\n".join(wrong)


def test_the_graph_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself, on a made-up package: a cycle closed by an import inside a function is found."""
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("")
    (src / "pkg" / "a.py").write_text("from . import b\n")
    (src / "pkg" / "b.py").write_text("def f():\n    from pkg.c import g\n")
    (src / "pkg" / "c.py").write_text("import pkg.a\ng = 1\n")
    mods = modules([src])
    assert find_cycle(_graph(list(edges(mods)))) == ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]
    (src / "pkg" / "c.py").write_text("g = 1\n")
    assert find_cycle(_graph(list(edges(modules([src]))))) is None
