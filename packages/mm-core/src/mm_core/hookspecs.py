"""The mm hook specifications: the whole plugin surface of mm, in one module.

A plugin is a module (or object) with functions named like the hooks below, marked with
:data:`mm_core.hookimpl`, and advertised through the ``mm`` entry-point group of its distribution::

    # pyproject.toml of your distribution
    [project.entry-points.mm]
    my_plugin = "my_package.hooks"

Built-in packages register the same way, so nothing is privileged. Each hook returns a list of typed records
(:mod:`mm_core.records` and :mod:`mm_core.contracts`); the registry (:mod:`mm_core.registry`) merges them and
rejects two providers of one name.

The examples in each docstring run as written (they are collected by ``tests/test_hookspec_docs.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import typer

    from mm_core.contracts import EmbodimentSpec
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

PROJECT = "mm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mm_embodiments() -> list[EmbodimentSpec]:
    """Musculoskeletal models this plugin provides.

    Example::

        >>> from mm_core import hookimpl
        >>> from mm_core.contracts import EmbodimentSpec
        >>> XML = '''<mujoco><worldbody><body name="b"><joint name="j" type="hinge"/>
        ...   <geom type="capsule" size=".05" fromto="0 0 0 0 0 .3"/><site name="tip" pos="0 0 .3"/></body>
        ...   </worldbody></mujoco>'''
        >>> def build():
        ...     import mujoco
        ...     return mujoco.MjSpec.from_string(XML)
        >>> @hookimpl
        ... def mm_embodiments():
        ...     return [EmbodimentSpec(name="one-joint", root="fixed", spec_builder=build,
        ...                            tracked_sites=("tip",), smpl_joint_map={"R_Wrist": "tip"})]
        >>> mm_embodiments()[0].compile().njnt
        1
    """


@hookspec
def mm_retargeters() -> list[Retargeter]:
    """Retargeting methods (``SourceMotion`` + ``EmbodimentSpec`` -> ``MotionClip``).

    Example::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import Retargeter
        >>> def retarget(source, embodiment, **options):
        ...     raise NotImplementedError("your IK here")
        >>> @hookimpl
        ... def mm_retargeters():
        ...     return [Retargeter(name="my-ik", retarget=retarget, description="my IK")]
        >>> mm_retargeters()[0].name
        'my-ik'
    """


@hookspec
def mm_motion_readers() -> list[MotionReader]:
    """Readers of human motion-capture files, chosen by file suffix.

    Example::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import MotionReader
        >>> def read_c3d(path, **options):
        ...     raise ValueError(f"{path}: C3D reading not written yet")
        >>> @hookimpl
        ... def mm_motion_readers():
        ...     return [MotionReader(name="c3d", suffixes=(".c3d",), read=read_c3d)]
        >>> mm_motion_readers()[0].suffixes
        ('.c3d',)
    """


@hookspec
def mm_reward_terms() -> list[RewardTerm]:
    """Reward terms of the imitation task: ``fn(env, **params) -> tensor (nworld,)``.

    Example (a term that rewards keeping the root high, usable with ``--set task.rewards.tall=0.1``)::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import RewardTerm
        >>> def root_height(env, target=0.9):
        ...     return -(env.sim.qpos[:, 2] - target).abs()
        >>> @hookimpl
        ... def mm_reward_terms():
        ...     return [RewardTerm(name="tall", fn=root_height, weight=0.1, params={"target": 0.9})]
        >>> mm_reward_terms()[0].params["target"]
        0.9
    """


@hookspec
def mm_observation_terms() -> list[ObservationTerm]:
    """Observation terms of the imitation task: ``fn(env, **params) -> float tensor (nworld, k)``.

    Example (the root height, usable with ``--set task.observations.height=true``)::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import ObservationTerm
        >>> def height(env, scale=1.0):
        ...     return scale * env.cur.site_pos[:, 0, 2:3]
        >>> @hookimpl
        ... def mm_observation_terms():
        ...     return [ObservationTerm(name="height", fn=height, params={"scale": 1.0})]
        >>> mm_observation_terms()[0].name
        'height'
    """


@hookspec
def mm_termination_terms() -> list[TerminationTerm]:
    """Termination (failure) terms of the imitation task: ``fn(env, **params) -> bool tensor (nworld,)``.

    Example (end an episode when the main site drops below a height, ``--set task.terminations.fell=0.5``)::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import TerminationTerm
        >>> def fell(env, threshold=0.5):
        ...     return env.cur.site_pos[:, 0, 2] < threshold
        >>> @hookimpl
        ... def mm_termination_terms():
        ...     return [TerminationTerm(name="fell", fn=fell, params={"threshold": 0.5})]
        >>> mm_termination_terms()[0].params["threshold"]
        0.5
    """


@hookspec
def mm_sim_backends() -> list[SimBackend]:
    """Batched physics backends, chosen by name (``mm train --backend NAME``).

    Example::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import SimBackend
        >>> def make(model, num_worlds, physics, device=None):
        ...     raise NotImplementedError
        >>> @hookimpl
        ... def mm_sim_backends():
        ...     return [SimBackend(name="my-sim", factory=make, is_available=lambda: False)]
        >>> mm_sim_backends()[0].is_available()
        False
    """


@hookspec
def mm_validation_metrics() -> list[ValidationMetric]:
    """Metrics comparing a simulated gait-cycle curve with the reference mean (and SD).

    Example::

        >>> import numpy as np
        >>> from mm_core import hookimpl
        >>> from mm_core.records import ValidationMetric
        >>> def peak_error(sim, ref_mean, ref_sd=None):
        ...     return float(abs(sim.max() - ref_mean.max()))
        >>> @hookimpl
        ... def mm_validation_metrics():
        ...     return [ValidationMetric(name="peak_error", fn=peak_error, higher_is_better=False)]
        >>> mm_validation_metrics()[0].fn(np.ones(3), np.zeros(3))
        1.0
    """


@hookspec
def mm_reference_datasets() -> list[ReferenceDataset]:
    """Experimental reference datasets for ``mm validate --reference NAME``.

    Example::

        >>> from mm_core import hookimpl
        >>> from mm_core.records import ReferenceDataset
        >>> def load(path=None):
        ...     raise FileNotFoundError("point me at your lab's CSV")
        >>> @hookimpl
        ... def mm_reference_datasets():
        ...     return [ReferenceDataset(name="mylab-walking", load=load, description="our treadmill data")]
        >>> mm_reference_datasets()[0].name
        'mylab-walking'
    """


@hookspec
def mm_cli(app: typer.Typer) -> Any:
    """Add commands to the ``mm`` command line. Import heavy modules inside the commands, not here.

    Example::

        >>> import typer
        >>> from mm_core import hookimpl
        >>> @hookimpl
        ... def mm_cli(app):
        ...     @app.command("hello")
        ...     def hello(name: str = "world"):
        ...         print(f"hello {name}")
        >>> app = typer.Typer()
        >>> mm_cli(app)
        >>> [c.name for c in app.registered_commands]
        ['hello']
    """


#: Hook name -> record kind, used by ``mm plugins list`` and the registry.
RECORD_HOOKS = (
    "mm_embodiments",
    "mm_retargeters",
    "mm_motion_readers",
    "mm_reward_terms",
    "mm_observation_terms",
    "mm_termination_terms",
    "mm_sim_backends",
    "mm_validation_metrics",
    "mm_reference_datasets",
)
