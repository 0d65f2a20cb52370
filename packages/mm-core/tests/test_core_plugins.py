from __future__ import annotations

import doctest
import inspect
import textwrap
from pathlib import Path

import pytest

import mm_core
from mm_core import hookimpl, hookspecs, plugins, registry
from mm_core.contracts import EmbodimentSpec
from mm_core.records import RewardTerm

XML = (
    "<mujoco><worldbody><body><joint name='j'/><geom size='.1'/><site name='s'/></body></worldbody></mujoco>"
)


def emb(name: str) -> EmbodimentSpec:
    return EmbodimentSpec(
        name=name, root="fixed", tracked_sites=("s",), smpl_joint_map={}, mjcf_path="unused.xml"
    )


class Provider:
    def __init__(self, *names: str) -> None:
        self.names = names

    @hookimpl
    def mm_embodiments(self):
        return [emb(n) for n in self.names]


@pytest.fixture
def pm(monkeypatch):
    """A fresh plugin manager with no entry points, swapped in for the process-wide one."""
    fresh = plugins.PluginManager()
    monkeypatch.setattr(plugins, "_manager", fresh)
    registry.clear_cache()
    yield fresh
    registry.clear_cache()


def test_unknown_name_lists_valid_ones(pm) -> None:
    pm.register(Provider("arm", "leg"), "p1")
    with pytest.raises(registry.UnknownNameError) as e:
        mm_core.get_embodiment("tail")
    assert "'tail'" in str(e.value) and "arm, leg" in str(e.value)
    assert mm_core.get_embodiment("arm").name == "arm"
    assert registry.embodiments.provider("leg") == "p1"


def test_duplicate_names_fail_naming_both_providers(pm) -> None:
    pm.register(Provider("arm"), "first_plugin")
    pm.register(Provider("arm"), "second_plugin")
    with pytest.raises(registry.DuplicateNameError) as e:
        mm_core.get_embodiment("arm")
    assert "first_plugin" in str(e.value) and "second_plugin" in str(e.value) and "'arm'" in str(e.value)


def test_wrong_record_type_is_named(pm) -> None:
    class Bad:
        @hookimpl
        def mm_embodiments(self):
            return [RewardTerm(name="x", fn=len)]

    pm.register(Bad(), "bad")
    with pytest.raises(registry.RegistryError, match="plugin 'bad' returned a RewardTerm"):
        registry.embodiments.names()


def test_hook_that_raises_is_reported_and_others_work(pm) -> None:
    class Raises:
        @hookimpl
        def mm_embodiments(self):
            raise RuntimeError("model file missing")

    pm.register(Raises(), "raises")
    pm.register(Provider("arm"), "good")
    assert registry.embodiments.names() == ["arm"]
    assert pm.infos["raises"].status == "failed" and "model file missing" in pm.infos["raises"].error


def make_dist(root: Path, dist: str, module: str, body: str) -> None:
    """A minimal installed distribution on disk with an ``mm`` entry point (what pip would leave behind)."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[mm]\n{module} = {module}\n")


def test_broken_entry_point_is_reported_and_others_load(tmp_path, monkeypatch) -> None:
    make_dist(tmp_path, "broken-dist", "zz_broken", "raise ImportError('needs libfoo')\n")
    make_dist(
        tmp_path,
        "good-dist",
        "zz_good",
        """
        from mm_core import hookimpl
        from mm_core.contracts import EmbodimentSpec

        @hookimpl
        def mm_embodiments():
            return [EmbodimentSpec(name="zz-arm", root="fixed", tracked_sites=("s",), smpl_joint_map={},
                                   mjcf_path="x.xml")]
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(plugins.STRICT_ENV, raising=False)
    ours = {"zz_broken", "zz_good"}
    pm = plugins.PluginManager()
    pm.load_entry_points(ours)
    broken = pm.infos["zz_broken"]
    assert broken.status == "failed" and broken.distribution == "broken-dist" and broken.version == "1.2.3"
    assert "needs libfoo" in broken.error
    assert pm.infos["zz_good"].status == "loaded" and pm.infos["zz_good"].hooks == ["mm_embodiments"]

    monkeypatch.setenv(plugins.STRICT_ENV, "1")
    with pytest.raises(plugins.PluginLoadError, match="zz_broken.*broken-dist 1.2.3.*needs libfoo"):
        plugins.PluginManager().load_entry_points(ours)


def test_every_hook_is_documented_with_a_runnable_example() -> None:
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("mm_")]
    assert set(hooks) == {*hookspecs.RECORD_HOOKS, "mm_cli"}
    for name in hooks:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert ">>>" in doc, f"{name} has no runnable example"
    pytest.importorskip("mujoco")  # the mm_embodiments example compiles a model
    result = doctest.testmod(hookspecs, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= len(hooks) and result.failed == 0


def test_every_record_hook_has_a_registry_kind() -> None:
    assert set(registry.KINDS) == set(hookspecs.RECORD_HOOKS)
