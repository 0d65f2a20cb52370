"""A synthetic walk built from reference curves: the check that an embodiment's joints map the right way round.

Joint angles are set by joint NAME in the model's own convention from the reference means; validating the clip
must give those curves back (r ~ 1 up to the event-detection shift). A sign error shows as r ~ -1.
"""

from __future__ import annotations

from pathlib import Path
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


def write_sto(path: str | Path, columns: dict[str, np.ndarray], name: str, in_degrees: bool = True) -> Path:
    """Write an OpenSim storage file (``.mot``/``.sto``): header, ``endheader``, labels, tab-separated rows.

    ``columns``: label -> values (T,), ``time`` first.
    """
    p = Path(path)
    labels = list(columns)
    data = np.column_stack([columns[c] for c in labels])
    head = f"{name}\nversion=1\nnRows={len(data)}\nnColumns={len(labels)}\ninDegrees={'yes' if in_degrees else 'no'}\n"
    body = "\n".join("\t".join(f"{v:.6f}" for v in row) for row in data)
    p.write_text(head + "endheader\n" + "\t".join(labels) + "\n" + body + "\n", encoding="utf-8")
    return p


def synthetic_trial(
    reference: Any,
    path: str | Path,
    *,
    forces_path: str | Path | None = None,
    strides: int = 6,
    stride_s: float = 1.1,
    stance: float = 0.6,
    start: float = 0.37,
    fps: float = 100.0,
    seed: int = 0,
    gait2392_knee: bool = True,
    locked_subtalar_deg: float | None = 5.17,
) -> Path:
    """A whole lab-like OpenSim IK trial (``.mot``) made from a reference's cycle means, for tests and checks.

    ``strides`` strides of both legs (left half a cycle after right) with stride times varying by 4 %, a 3 %
    amplitude difference per leg and 0.5° noise, starting at phase ``start`` (mid-cycle). Coordinates are written in
    OpenSim names and signs (``knee_angle`` flexion negative when ``gait2392_knee``); ``subtalar_angle`` is locked at
    ``locked_subtalar_deg`` (± 1e-6). With ``forces_path`` an external-loads ``.mot`` is written beside it: per foot
    ``ground_force_vx/vy/vz`` (right unprefixed, left ``1_``), vertical force during the first ``stance`` of each
    cycle (foot strike at phase 0). Returns ``path``.
    """
    rng = np.random.default_rng(seed)
    durs = stride_s * (1 + 0.04 * rng.standard_normal(strides))
    t = np.arange(int(durs.sum() * fps)) / fps
    phase = np.interp(t, np.concatenate([[0.0], np.cumsum(durs)]), np.arange(strides + 1)) + start
    cols: dict[str, np.ndarray] = {"time": t}
    grf: dict[str, np.ndarray] = {"time": t}
    for side, offset, prefix in (("r", 0.0, ""), ("l", 0.5, "1_")):
        p = (phase - offset) % 1.0
        amp = 1 + 0.03 * rng.standard_normal()
        for coord, q, sign in (
            ("hip_flexion", "hip_flexion", 1.0),
            ("knee_angle", "knee_flexion", -1.0 if gait2392_knee else 1.0),
            ("ankle_angle", "ankle_dorsiflexion", 1.0),
        ):
            c = reference.curves[q]
            cols[f"{coord}_{side}"] = sign * amp * np.interp(
                100 * p, c.percent, c.mean
            ) + 0.5 * rng.standard_normal(len(t))
        if locked_subtalar_deg is not None:
            cols[f"subtalar_angle_{side}"] = locked_subtalar_deg + 1e-6 * rng.standard_normal(len(t))
        on = p < stance
        s = np.clip(p / stance, 0.0, 1.0)
        grf[f"{prefix}ground_force_vx"] = np.where(on, -150.0 * np.sin(2 * np.pi * s), 0.0)
        grf[f"{prefix}ground_force_vy"] = np.where(on, 700.0 * (np.sqrt(np.sin(np.pi * s)) + 0.1), 0.0)
        grf[f"{prefix}ground_force_vz"] = np.zeros(len(t))
    if forces_path is not None:
        write_sto(forces_path, grf, "external loads")
    return write_sto(path, cols, "Coordinates")
