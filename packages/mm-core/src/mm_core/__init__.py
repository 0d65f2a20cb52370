"""mm-core: the interface layer of mm (data contracts, hookspecs, plugin manager, registry, ``mm`` CLI root).

Light by design: numpy, pluggy and typer only; never torch, mujoco or warp at import time.
"""

from mm_core.contracts import (
    SMPL_JOINTS,
    ContractError,
    EmbodimentSpec,
    EvalReport,
    MotionClip,
    PhysicsOptions,
    RetargetReport,
    SourceMotion,
    TaskDefaults,
    ValidationReport,
)
from mm_core.hookspecs import hookimpl
from mm_core.registry import (
    DuplicateNameError,
    RegistryError,
    UnknownNameError,
    get_embodiment,
    get_motion_reader,
    get_observation_term,
    get_reference_dataset,
    get_retargeter,
    get_reward_term,
    get_sim_backend,
    get_termination_term,
    get_validation_metric,
    motion_reader_for,
)

__version__ = "0.1.0"
__all__ = [
    "SMPL_JOINTS",
    "ContractError",
    "DuplicateNameError",
    "EmbodimentSpec",
    "EvalReport",
    "MotionClip",
    "PhysicsOptions",
    "RegistryError",
    "RetargetReport",
    "SourceMotion",
    "TaskDefaults",
    "UnknownNameError",
    "ValidationReport",
    "get_embodiment",
    "get_motion_reader",
    "get_observation_term",
    "get_reference_dataset",
    "get_retargeter",
    "get_reward_term",
    "get_sim_backend",
    "get_termination_term",
    "get_validation_metric",
    "hookimpl",
    "motion_reader_for",
]
