"""Plugin discovery: every entry point of the ``mm`` group is loaded on its own.

A plugin that fails to import is recorded (name, distribution, version, error) and the others still load; set
``MM_STRICT_PLUGINS=1`` to re-raise instead. Built-ins come through the same group as third-party plugins.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

import pluggy

from mm_core import hookspecs

ENTRY_POINT_GROUP = "mm"
STRICT_ENV = "MM_STRICT_PLUGINS"


class PluginLoadError(RuntimeError):
    """A plugin could not be loaded (raised only in strict mode)."""


@dataclass(kw_only=True)
class PluginInfo:
    """What ``mm plugins list`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    value: str
    """Entry-point target, e.g. ``mm_models.plugin``."""
    hooks: list[str] = field(default_factory=list)
    status: str = "loaded"
    """``loaded`` or ``failed``."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() not in ("", "0", "false", "no")


class PluginManager:
    """A pluggy manager that loads ``mm`` entry points one by one and remembers what happened to each."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def load_entry_points(self, names: set[str] | None = None) -> None:
        """Load every ``mm`` entry point (or only those named in ``names``), each on its own."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if names is None or ep.name in names:
                self._load_one(ep)

    def _load_one(self, ep: EntryPoint) -> None:
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
            value=ep.value,
        )
        if ep.name in self.infos:
            other = self.infos[ep.name]
            raise PluginLoadError(
                f"two plugins are named {ep.name!r}: {other.value} (from {other.distribution}) and "
                f"{ep.value} (from {info.distribution}); uninstall one or rename its entry point"
            )
        self.infos[ep.name] = info
        try:
            obj = ep.load()
            self.register(obj, ep.name, info)
        except Exception as e:  # a broken plugin must not take the others down
            info.status = "failed"
            info.error = f"{type(e).__name__}: {e}"
            if strict():
                raise PluginLoadError(
                    f"plugin {ep.name!r} ({info.distribution} {info.version}, {ep.value}) failed to load: "
                    f"{info.error}\n{traceback.format_exc()}"
                ) from e

    def register(self, obj: ModuleType | object, name: str, info: PluginInfo | None = None) -> None:
        """Register a plugin object directly (tests, notebooks); entry points go through ``load_entry_points``."""
        self.pm.register(obj, name=name)
        if info is None:
            info = PluginInfo(name=name, distribution="(registered in code)", version="", value=repr(obj))
            self.infos[name] = info
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(obj) or [])

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call one hook on every plugin separately: ``[(plugin_name, result)]``.

        A plugin whose hook raises is marked failed (and named), unless strict mode is on.
        """
        results = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            name = self.pm.get_name(impl.plugin) or "?"
            try:
                res = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except Exception as e:
                info = self.infos.get(name)
                msg = f"{type(e).__name__} in {hook_name}: {e}"
                if info is not None:
                    info.status, info.error = "failed", msg
                if strict():
                    raise PluginLoadError(f"plugin {name!r}: {msg}") from e
                continue
            results.append((name, res))
        return results


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, with all ``mm`` entry points loaded on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
        _manager.load_entry_points()
    return _manager


def reset_plugin_manager() -> None:
    """Forget loaded plugins (tests); the registry rebuilds its lookups from the next manager."""
    global _manager
    _manager = None
