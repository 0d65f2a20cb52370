"""A synthetic walk built from reference curves: the check that an embodiment's joints map the right way round.

Joint angles are set by joint NAME in the model's own convention from the reference means; validating the clip
must give those curves back (r ~ 1 up to the event-detection shift). A sign error shows as r ~ -1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: model joint base name (side suffix ``_r`` / ``_l`` appended) -> reference quantity it follows, OpenSim/MyoSuite
#: convention (flexion, knee flexion, dorsiflexion positive).
OPENSIM_JOINTS = {
    "hip_flexion": "hip_flexion",
    "knee_angle": "knee_flexion",
    "ankle_angle": "ankle_dorsiflexion",
}


def synthetic_walk(
    embodiment: str,
    reference: Any,
    *,
    seconds: float = 5.0,
    stride_s: float = 1.1,
    speed: float = 1.2,
    fps: float = 100.0,
    joints: dict[str, str] | None = None,
) -> Any:
    """A ``MotionClip`` on ``embodiment``: right leg at phase 0, left at 50 %, root moving forward at ``speed`` m/s.

    ``joints``: model joint base name -> reference quantity (default ``OPENSIM_JOINTS``). The forward direction is
    the model's heel-to-toe heading in its default pose; fixed-root models stay in place.
    """
    import mujoco

    from mm_core import MotionClip, get_embodiment

    spec = get_embodiment(embodiment)
    model = spec.compile()
    data = mujoco.MjData(model)
    t = np.arange(int(seconds * fps)) / fps
    qpos = np.tile(model.qpos0, (len(t), 1))
    mujoco.mj_kinematics(model, data)
    sites = spec.tracked_sites
    sid = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, s) for s in sites]
    if model.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE:
        # Both feet: their toe-out cancels.
        heading = sum(
            data.site_xpos[sid[sites.index(f"mimic_toes_{s}")]]
            - data.site_xpos[sid[sites.index(f"mimic_ankle_{s}")]]
            for s in "lr"
        )
        heading[2] = 0.0
        qpos[:, 0:3] += np.outer(speed * t, heading / np.linalg.norm(heading))
    for joint, q in (joints or OPENSIM_JOINTS).items():
        curve = reference.curves[q]
        for side, phase in (("r", 0.0), ("l", 0.5)):
            j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, f"{joint}_{side}")
            if j < 0:
                raise ValueError(f"embodiment {embodiment!r} has no joint {joint}_{side}")
            pct = (t / stride_s - phase) % 1.0 * 100
            qpos[:, model.jnt_qposadr[j]] = np.radians(np.interp(pct, curve.percent, curve.mean))
    pos = np.zeros((len(t), len(sites), 3))
    quat = np.zeros((len(t), len(sites), 4))
    for k in range(len(t)):
        data.qpos[:] = qpos[k]
        mujoco.mj_kinematics(model, data)
        pos[k] = data.site_xpos[sid]
        for i, s in enumerate(sid):
            mujoco.mju_mat2Quat(quat[k, i], data.site_xmat[s])
    qvel = np.zeros((len(t), model.nv))
    return MotionClip(fps=fps, qpos=qpos, qvel=qvel, site_pos=pos, site_quat=quat, site_names=tuple(sites),
                      embodiment=embodiment, name="synthetic_walk", source="mm_validate.synthetic")  # fmt: skip
