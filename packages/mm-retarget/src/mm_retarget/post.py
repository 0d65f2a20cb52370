"""Post-processing of the IK's poses: limits, resampling to the output rate, and the clip's site poses (the
kinematics themselves, couplings and velocities included, live in :mod:`mm_models.kinematics`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_retarget.model import RetargetModel


def resample_qpos(m: mujoco.MjModel, t_in: np.ndarray, qpos: np.ndarray, t_out: np.ndarray) -> np.ndarray:
    """qpos (N, nq) at times t_in -> (M, nq) at t_out: PCHIP for scalars and positions, SLERP for quaternions."""
    from scipy.interpolate import PchipInterpolator
    from scipy.spatial.transform import Rotation, Slerp

    from mm_models.kinematics import qpos_width, quat_slices, scalar_joints

    if len(t_in) < 2:
        return np.repeat(qpos[:1], len(t_out), axis=0)
    scalar = [int(m.jnt_qposadr[j]) for j in scalar_joints(m)]
    free_pos = [
        int(m.jnt_qposadr[j]) + i for j in range(m.njnt) if qpos_width(m.jnt_type[j]) == 7 for i in range(3)
    ]
    out = np.empty((len(t_out), m.nq))
    cols = scalar + free_pos
    out[:, cols] = PchipInterpolator(t_in, qpos[:, cols], axis=0)(t_out)
    for a, b in quat_slices(m):
        q = qpos[:, a:b]
        rot = Rotation.from_quat(np.roll(q, -1, axis=1))
        out[:, a:b] = np.roll(Slerp(t_in, rot)(t_out).as_quat(), 1, axis=1)
    return out


def clip_to_limits(m: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Clamp limited hinge/slide coordinates to their ranges (the QP bounds them up to solver tolerance)."""
    from mm_models.kinematics import scalar_joints

    q = qpos.copy()
    for j in scalar_joints(m, limited=True):
        a = m.jnt_qposadr[j]
        q[:, a] = np.clip(q[:, a], *m.jnt_range[j])
    return q


def site_poses(mdl: RetargetModel, qpos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tracked-site positions (T, S, 3) and quaternions w-x-y-z (T, S, 4) by forward kinematics."""
    from mm_models.kinematics import site_kinematics

    kin = site_kinematics(mdl.model, qpos, None, mdl.site_ids)
    return kin["pos"], kin["quat"]
