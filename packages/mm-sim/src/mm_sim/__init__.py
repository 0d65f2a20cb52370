"""mm-sim: batched physics (MuJoCo Warp, C MuJoCo) and the motion-imitation task.

``make_env`` / ``ImitationEnv`` (see docs/internals.md), ``mm_sim.motion.clip_from_qpos``, ``mm_sim.tasks.TaskConfig``.
Imports are lazy so that loading the plugin stays instant.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ImitationEnv", "TaskConfig", "make_env"]


def __getattr__(name: str) -> Any:
    if name in ("make_env", "ImitationEnv"):
        from mm_sim import env

        return getattr(env, name)
    if name == "TaskConfig":
        from mm_sim.tasks.config import TaskConfig

        return TaskConfig
    raise AttributeError(f"module 'mm_sim' has no attribute {name!r}")
