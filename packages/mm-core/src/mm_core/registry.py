"""Typed lookups over what all plugins provide: ``get_embodiment(name)`` and friends.

Unknown names fail with the list of valid ones; two providers of one name fail naming both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generic, TypeVar

from mm_core.builtins import install_hint
from mm_core.contracts import EmbodimentSpec
from mm_core.plugins import get_plugin_manager
from mm_core.records import (
    MotionReader,
    ObservationTerm,
    ReferenceDataset,
    Retargeter,
    RewardTerm,
    SimBackend,
    TerminationTerm,
    ValidationMetric,
)

T = TypeVar("T")


class RegistryError(LookupError):
    """Unknown or duplicate name in the registry."""


class DuplicateNameError(RegistryError):
    """Two plugins provide the same name."""


class UnknownNameError(RegistryError, KeyError):
    """A name no installed plugin provides."""

    def __str__(self) -> str:  # KeyError would print the repr
        return str(self.args[0])


class Kind(Generic[T]):
    """All records of one kind, keyed by name, with the plugin that provided each."""

    def __init__(self, hook: str, label: str, record_type: type) -> None:
        self.hook, self.label, self.record_type = hook, label, record_type
        self._items: dict[str, tuple[str, T]] | None = None
        self._duplicates: dict[str, list[str]] = {}
        self._manager: Any = None  # the plugin manager the cache was built from (a reset one rebuilds it)

    def items(self) -> dict[str, tuple[str, T]]:
        """name -> (provider plugin, record), without names that several plugins provide (see ``problems``)."""
        manager = get_plugin_manager()
        if self._items is None or manager is not self._manager:
            self._manager = manager
            items: dict[str, tuple[str, T]] = {}
            providers: dict[str, list[str]] = {}
            for plugin, records in manager.call_each(self.hook):
                for rec in records or []:
                    if not isinstance(rec, self.record_type):
                        raise RegistryError(
                            f"plugin {plugin!r} returned a {type(rec).__name__} from {self.hook}; "
                            f"expected {self.record_type.__name__}"
                        )
                    providers.setdefault(rec.name, []).append(plugin)
                    items.setdefault(rec.name, (plugin, rec))
            # A duplicated name is refused on its own; every other name stays usable.
            self._duplicates = {n: p for n, p in providers.items() if len(p) > 1}
            self._items = {n: v for n, v in items.items() if n not in self._duplicates}
        return self._items

    def _duplicate_error(self, name: str) -> DuplicateNameError:
        infos = get_plugin_manager().infos
        a, *rest = (
            f"{p!r} ({infos[p].distribution})" if p in infos else repr(p) for p in self._duplicates[name]
        )
        return DuplicateNameError(
            f"{self.label} {name!r} is provided by {len(rest) + 1} plugins: {a} and "
            f"{', '.join(rest)}; uninstall or disable one of them (see `mm plugins list`)"
        )

    def problems(self) -> list[str]:
        """Why some names are not available: duplicated names (both providers named)."""
        self.items()
        return [str(self._duplicate_error(n)) for n in sorted(self._duplicates)]

    def names(self) -> list[str]:
        return sorted(self.items())

    def get(self, name: str) -> T:
        items = self.items()
        if name in self._duplicates:
            raise self._duplicate_error(name)
        if name not in items:
            valid = ", ".join(sorted(items)) or "(none installed)"
            failed = [i for i in get_plugin_manager().infos.values() if i.status == "failed"]
            why = "".join(
                f"; plugin {i.name!r} ({i.distribution}) failed to load ({i.error}), "
                "so what it provides is missing"
                for i in failed
            )
            hint = install_hint(self.hook, name)
            raise UnknownNameError(f"unknown {self.label} {name!r}; valid names: {valid}{why}{hint}")
        return items[name][1]

    def provider(self, name: str) -> str:
        self.get(name)
        return self.items()[name][0]

    def clear(self) -> None:
        self._items = None
        self._duplicates = {}


embodiments: Kind[EmbodimentSpec] = Kind("mm_embodiments", "embodiment", EmbodimentSpec)
retargeters: Kind[Retargeter] = Kind("mm_retargeters", "retargeter", Retargeter)
motion_readers: Kind[MotionReader] = Kind("mm_motion_readers", "motion reader", MotionReader)
reward_terms: Kind[RewardTerm] = Kind("mm_reward_terms", "reward term", RewardTerm)
observation_terms: Kind[ObservationTerm] = Kind("mm_observation_terms", "observation term", ObservationTerm)
termination_terms: Kind[TerminationTerm] = Kind("mm_termination_terms", "termination term", TerminationTerm)
sim_backends: Kind[SimBackend] = Kind("mm_sim_backends", "simulation backend", SimBackend)
validation_metrics: Kind[ValidationMetric] = Kind(
    "mm_validation_metrics", "validation metric", ValidationMetric
)
reference_datasets: Kind[ReferenceDataset] = Kind(
    "mm_reference_datasets", "reference dataset", ReferenceDataset
)
KINDS: dict[str, Kind[Any]] = {
    k.hook: k
    for k in (
        embodiments,
        retargeters,
        motion_readers,
        reward_terms,
        observation_terms,
        termination_terms,
        sim_backends,
        validation_metrics,
        reference_datasets,
    )
}


def clear_cache() -> None:
    for k in KINDS.values():
        k.clear()


def get_embodiment(name: str) -> EmbodimentSpec:
    return embodiments.get(name)


def get_retargeter(name: str) -> Retargeter:
    return retargeters.get(name)


def get_reward_term(name: str) -> RewardTerm:
    return reward_terms.get(name)


def get_observation_term(name: str) -> ObservationTerm:
    return observation_terms.get(name)


def get_termination_term(name: str) -> TerminationTerm:
    return termination_terms.get(name)


def get_sim_backend(name: str) -> SimBackend:
    return sim_backends.get(name)


def get_validation_metric(name: str) -> ValidationMetric:
    return validation_metrics.get(name)


def get_reference_dataset(name: str) -> ReferenceDataset:
    return reference_datasets.get(name)


def get_motion_reader(name: str) -> MotionReader:
    return motion_readers.get(name)


def motion_reader_for(path: str | Path) -> MotionReader:
    """The reader that claims ``path``'s suffix; fails listing the suffixes that are supported, or naming both
    readers and their plugins when two claim the suffix (never a silent first-wins choice)."""
    suffix = Path(path).suffix.lower()
    claims = [(p, r) for p, r in motion_readers.items().values() if suffix in r.suffixes]
    if len(claims) > 1:
        who = " and ".join(f"{r.name!r} (plugin {p!r})" for p, r in claims)
        raise DuplicateNameError(
            f"{path}: {len(claims)} motion readers claim {suffix!r}: {who}; uninstall or disable one of the "
            "plugins (see `mm plugins list`), or call the one you mean with mm_core.get_motion_reader(NAME).read"
        )
    readers = [r for _, r in claims]
    if not readers:
        known = sorted({s for _, r in motion_readers.items().values() for s in r.suffixes})
        raise UnknownNameError(
            f"{path}: no motion reader for {suffix or 'files without a suffix'!r}; supported: "
            f"{', '.join(known) or '(none installed: pip install mm-retarget)'}"
        )
    return readers[0]
