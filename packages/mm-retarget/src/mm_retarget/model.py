"""The model side of retargeting: a compiled embodiment with the lookups retargeting needs, cached per spec."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mm_core.contracts import EmbodimentSpec

if TYPE_CHECKING:  # pragma: no cover
    import mujoco


@dataclass(frozen=True)
class RetargetModel:
    """A compiled embodiment with the lookups retargeting needs (resolved once)."""

    spec: EmbodimentSpec
    model: mujoco.MjModel
    site_ids: np.ndarray
    """Tracked site ids, in ``spec.tracked_sites`` order (S,)."""
    ref_qpos: np.ndarray
    """Reference pose: the default keyframe, else qpos0 (nq,)."""
    ref_site_pos: np.ndarray
    """Tracked site positions in the reference pose (S, 3)."""
    collision_geoms: np.ndarray
    """Geom ids that can touch the floor (G,)."""


_MODELS: dict[int, tuple[EmbodimentSpec, RetargetModel]] = {}


def load_model(embodiment: EmbodimentSpec) -> RetargetModel:
    """The compiled embodiment with its lookups, cached per spec object (compiling MyoFullBody takes seconds)."""
    hit = _MODELS.get(id(embodiment))
    if hit is not None and hit[0] is embodiment:
        return hit[1]
    mdl = _load_model(embodiment)
    _MODELS[id(embodiment)] = (embodiment, mdl)
    return mdl


def _load_model(embodiment: EmbodimentSpec) -> RetargetModel:
    import mujoco

    from mm_models.kinematics import site_ids

    m = embodiment.compile()
    try:
        ids = site_ids(m, embodiment.tracked_sites)
    except ValueError as e:
        raise ValueError(f"embodiment {embodiment.name!r}: tracked {e}") from None
    d = mujoco.MjData(m)
    if embodiment.default_keyframe:
        k = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, embodiment.default_keyframe)
        if k < 0:
            raise ValueError(f"embodiment {embodiment.name!r}: no keyframe {embodiment.default_keyframe!r}")
        d.qpos[:] = m.key_qpos[k]
    ref = d.qpos.copy()
    mujoco.mj_kinematics(m, d)
    geoms = np.flatnonzero(
        ((m.geom_contype != 0) | (m.geom_conaffinity != 0))
        & (m.geom_bodyid != 0)
        & (m.geom_type != mujoco.mjtGeom.mjGEOM_PLANE)
    )
    return RetargetModel(embodiment, m, ids, ref, d.site_xpos[ids].copy(), geoms)


def joint_names(model: mujoco.MjModel) -> tuple[str, ...]:
    """Every joint's name in model order (``joint<i>`` for unnamed ones)."""
    import mujoco

    return tuple(
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or f"joint{j}" for j in range(model.njnt)
    )
