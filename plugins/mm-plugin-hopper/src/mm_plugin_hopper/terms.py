"""The hopper's task terms, one of each kind: an observation, a reward and a termination term.

Each reads ``env.cur`` / ``env.ref`` (mm-sim's ``TaskState``: the state after the step and its reference frame,
world-first tensors) and uses only tensor methods, so this module imports no torch and stays light. ``hooks.py``
registers them; a task config switches them on by name (``--set task.observations.hopper_pelvis_height=true``).
"""

from __future__ import annotations

from typing import Any


def pelvis_height(env: Any, scale: float) -> Any:
    """Observation: the pelvis (main site) height above the floor (m) times ``scale`` (N, 1)."""
    return scale * env.cur.site_pos[:, 0, 2:3]


def pelvis_height_match(env: Any, k: float) -> Any:
    """Reward: exp(-k * (pelvis height - the reference's)^2), in [0, 1] (N,)."""
    dz = env.cur.site_pos[:, 0, 2] - env.ref.site_pos[:, 0, 2]
    return (-k * dz.square()).exp()


def pelvis_low(env: Any, threshold: float) -> Any:
    """Termination: the pelvis (main site) is lower than ``threshold`` m above the floor (N,) bool."""
    return env.cur.site_pos[:, 0, 2] < threshold
