"""Typed records that plugins return from the ``mm_*`` hooks (see :mod:`mm_core.hookspecs`).

Every record has a unique ``name`` within its kind; the registry rejects two providers of one name.
Callables in records should import heavy libraries (torch, mujoco, warp) inside themselves, so that loading
plugins stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Retargeter:
    """A method that maps a :class:`~mm_core.contracts.SourceMotion` onto an embodiment."""

    name: str
    """Registry name, e.g. ``gmr-fit``."""
    retarget: Callable[..., Any]
    """``retarget(source: SourceMotion, embodiment: EmbodimentSpec, **options) -> MotionClip``."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class MotionReader:
    """Reads a human motion-capture file into a :class:`~mm_core.contracts.SourceMotion`."""

    name: str
    """Registry name, e.g. ``bvh``."""
    suffixes: tuple[str, ...]
    """File suffixes this reader claims, lower case with the dot (``.bvh``)."""
    read: Callable[..., Any]
    """``read(path: Path, **options) -> SourceMotion``; raises ``ValueError`` naming the file on bad input."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class RewardTerm:
    """A reward term of the imitation task."""

    name: str
    """Registry name; the task config refers to it."""
    fn: Callable[..., Any]
    """``fn(env, **params) -> tensor (nworld,)``, or a class ``cls(env, **params)`` whose instances are called
    with ``(env)``."""
    weight: float = 1.0
    """Default weight when a task config adds this term without one."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Default keyword parameters."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class ObservationTerm:
    """An observation term of the imitation task; the policy sees the terms concatenated in config order."""

    name: str
    """Registry name; ``TaskConfig.observations`` refers to it."""
    fn: Callable[..., Any]
    """``fn(env, **params) -> float tensor (nworld, k)`` (k fixed for an env), or a class ``cls(env, **params)``
    whose instances are called with ``(env)``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Default keyword parameters."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class TerminationTerm:
    """A failure condition of the imitation task: any true term ends the world's episode (terminated)."""

    name: str
    """Registry name; ``TaskConfig.terminations`` refers to it."""
    fn: Callable[..., Any]
    """``fn(env, **params) -> bool tensor (nworld,)``, or a class ``cls(env, **params)`` whose instances are called
    with ``(env)``."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Default keyword parameters (e.g. ``threshold``)."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class SimBackend:
    """A batched physics backend."""

    name: str
    """Registry name: ``warp``, ``mujoco``, ..."""
    factory: Callable[..., Any]
    """``factory(model: mujoco.MjModel, num_worlds: int, physics: PhysicsOptions, device: str | None)``."""
    is_available: Callable[[], bool] = lambda: True
    """Whether it can run here (e.g. CUDA present)."""
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class ValidationMetric:
    """A metric comparing a simulated cycle-normalised curve with a reference curve."""

    name: str
    """Registry name, e.g. ``pearson_r``."""
    fn: Callable[..., float]
    """``fn(sim: ndarray (P,), ref_mean: ndarray (P,), ref_sd: ndarray (P,) | None) -> float``."""
    higher_is_better: bool = True
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class ReferenceDataset:
    """Experimental reference data (gait-cycle curves) that ``mm validate`` compares against."""

    name: str
    """Registry name, e.g. ``schwartz2008-walking-free``."""
    load: Callable[..., Any]
    """``load(path: Path | None) -> reference object``; ``path`` None means the default location."""
    description: str = ""
    default_path: str | None = None
    """Where the data is looked for when no path is given (may use ``$MM_DATA``)."""
