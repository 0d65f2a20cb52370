"""Packaging facts that drift: the table of built-in names -> distribution (the hint an unknown name gives when a
package is missing) is true of the installed plugins, and README's dependency table is what the pyprojects declare.
The hint itself, and each package running alone, are checked where packages really are missing: .ci/isolation.sh."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from mm_core import registry
from mm_core.builtins import BUILTIN_PROVIDERS
from mm_core.plugins import get_plugin_manager

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
PACKAGES = ROOT / "packages"


@pytest.mark.parametrize("hook", sorted(BUILTIN_PROVIDERS))
def test_each_builtin_name_comes_from_the_distribution_named(hook: str) -> None:
    kind = registry.KINDS[hook]
    infos = get_plugin_manager().infos
    got = {name: infos[kind.provider(name)].distribution for name in BUILTIN_PROVIDERS[hook]}
    assert got == BUILTIN_PROVIDERS[hook]
    # Every built-in of those distributions is in the table (a new one must be added to it).
    dists = set(BUILTIN_PROVIDERS[hook].values())
    provided = {n for n, (plugin, _) in kind.items().items() if infos[plugin].distribution in dists}
    assert provided == set(BUILTIN_PROVIDERS[hook])


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_readme_dependency_table_matches_the_pyprojects() -> None:
    """README's "Install a single package" table lists every package and exactly what its pyproject declares."""
    rows = {}
    for line in README.read_text().splitlines():
        m = re.fullmatch(r"\| `(mm-[a-z-]+)` \| .* \| (.*) \|", line)
        if m:
            rows[m[1]] = m[2]
    pyprojects = {p.parent.name: p for p in sorted(PACKAGES.glob("*/pyproject.toml"))}
    assert set(rows) == set(pyprojects), "README table rows vs packages/*"
    for name, path in pyprojects.items():
        project = tomllib.loads(path.read_text())["project"]
        main, *extras = rows[name].split("; ")
        table = {"": {d.strip() for d in main.split(",")}}
        for e in extras:
            key, deps = re.fullmatch(r"extra `([a-z-]+)`: (.*)", e).groups()
            table[key] = {d.strip() for d in deps.split(",")}
        declared = {"": _names(project["dependencies"])}
        declared |= {k: _names(v) for k, v in project.get("optional-dependencies", {}).items()}
        assert table == declared, f"README.md's row for {name} vs {path}"
