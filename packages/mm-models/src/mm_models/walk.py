"""The one walk generator of mm: normative gait joint-angle curves, and a kinematic walk on an embodiment.

:data:`GAIT_FOURIER` holds published mean joint-angle curves of free-speed walking (Schwartz et al. 2008, J Biomech
41:1639, "free" speed group, as in ../shared/data/reference/schwartz2008_walking.csv), encoded as Fourier
coefficients (4 harmonics, rms fit error < 1.3 deg). :func:`gait_angle` evaluates them; mm-retarget's demo poses the
SMPL skeleton with them, and :func:`walk_qpos` puts them on an embodiment's joints (``hip_flexion_r`` /
``knee_angle_r`` / ``ankle_angle_r`` and ``_l`` by default, OpenSim/MyoSuite signs: flexion, knee flexion and
dorsiflexion positive), clips the driving joints to their ranges, applies the model's joint couplings and, for a
free root, moves the root forward (the pelvis stays level: :func:`level_pelvis_angle`). Users: ``mm_rl.motions.kinematic_walk`` (the demo clip without mm-retarget) and
``mm_validate.synthetic.synthetic_walk`` (the same walk following a reference's curves).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_core.contracts import EmbodimentSpec

# angle(phase) = a0 + sum_k a_k cos(2 pi k phase) + b_k sin(2 pi k phase), degrees, phase in [0, 1) from
# ipsilateral initial contact. Fitted to Schwartz 2008 free-speed means (51 points); positive directions as named.
GAIT_FOURIER: dict[str, tuple[float, tuple[tuple[float, float], ...]]] = {
    "pelvis_anterior_tilt": (11.59, ((0.03, 0.09), (0.41, -0.72), (0.01, 0.02), (0.15, -0.03))),
    "pelvis_obliquity_up": (-0.02, ((1.85, 2.12), (0.02, 0.04), (-1.19, 0.22), (0.01, 0.02))),
    "pelvis_internal_rotation": (-0.04, ((3.74, 2.10), (0.01, 0.01), (0.34, -0.37), (0.01, 0.02))),
    "hip_flexion": (18.45, ((20.87, -3.19), (-3.14, -1.54), (-0.10, 1.62), (-0.10, -0.09))),
    "hip_adduction": (-0.34, ((0.48, 4.94), (-0.05, -0.50), (-1.59, 0.46), (0.05, 0.09))),
    "hip_internal_rotation": (-1.87, ((1.18, 0.72), (-1.05, -0.67), (-1.17, 1.02), (-0.08, 0.49))),
    "knee_flexion": (22.87, ((-1.91, -18.75), (-13.63, 7.00), (-0.70, 4.31), (-0.87, 0.63))),
    "ankle_dorsiflexion": (0.75, ((-2.05, 7.09), (0.82, -7.22), (-4.60, 0.86), (2.20, 0.24))),
}

#: Embodiment joint base name (``_r`` / ``_l`` appended) -> gait quantity it follows (MyoFullBody, tiny).
GAIT_JOINTS: dict[str, str] = {
    "hip_flexion": "hip_flexion",
    "knee_angle": "knee_flexion",
    "ankle_angle": "ankle_dorsiflexion",
}

#: A gait curve: (quantity, phase (T,) in [0, 1)) -> angle (T,) in radians.
Curve = Callable[[str, np.ndarray], np.ndarray]


def gait_angle(name: str, phase: np.ndarray) -> np.ndarray:
    """The normative free-speed walking angle ``name`` (a :data:`GAIT_FOURIER` key) at ``phase``, in radians."""
    if name not in GAIT_FOURIER:
        raise ValueError(f"unknown gait curve {name!r}; valid: {', '.join(GAIT_FOURIER)}")
    phase = np.asarray(phase, dtype=np.float64)
    a0, harmonics = GAIT_FOURIER[name]
    out = np.full_like(phase, a0)
    for k, (a, b) in enumerate(harmonics, start=1):
        out += a * np.cos(2 * np.pi * k * phase) + b * np.sin(2 * np.pi * k * phase)
    return np.radians(out)


def level_pelvis_angle(name: str, phase: np.ndarray) -> np.ndarray:
    """:func:`gait_angle` for a skeleton whose pelvis stays level (no mean anterior tilt): hip flexion is measured
    from the pelvis, tilted forward by ~11.6 deg on average in the data (the ASIS-PSIS line, not a trunk lean), so
    the thigh's angle from the vertical is hip flexion minus that mean tilt. Other curves are unchanged."""
    angle = gait_angle(name, phase)
    if name == "hip_flexion":
        angle = angle - np.radians(GAIT_FOURIER["pelvis_anterior_tilt"][0])
    return angle


def _joint_adr(model: mujoco.MjModel, name: str, spec_name: str, joints: Mapping[str, str]) -> int:
    import mujoco

    j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if j < 0:
        raise ValueError(
            f"embodiment {spec_name!r} has no joint {name!r} for its walk (mapping {dict(joints)}); pass "
            "joints={model joint base name: gait quantity} naming its hip/knee/ankle joints without the _r/_l suffix"
        )
    return j


def _heading(model: mujoco.MjModel, qpos: np.ndarray, hips: list[int]) -> np.ndarray:
    """Unit horizontal direction the body faces: where flexing the hips moves the thighs' centres of mass."""
    import mujoco

    d = mujoco.MjData(model)
    thighs = model.jnt_bodyid[hips]
    d.qpos[:] = qpos
    mujoco.mj_kinematics(model, d)
    before = d.xipos[thighs].copy()
    for j in hips:
        d.qpos[model.jnt_qposadr[j]] += 0.3
    mujoco.mj_kinematics(model, d)
    step = (d.xipos[thighs] - before).sum(axis=0)
    step[2] = 0.0
    return step / np.linalg.norm(step)


def walk_qpos(
    model: mujoco.MjModel,
    spec: EmbodimentSpec,
    *,
    seconds: float = 4.0,
    fps: float | None = None,
    stride_s: float = 1.1,
    speed: float = 1.2,
    curve: Curve = level_pelvis_angle,
    joints: Mapping[str, str] | None = None,
) -> np.ndarray:
    """A kinematic walk on ``spec``'s model: qpos (T, nq), T = round(seconds * fps) + 1.

    Right leg at phase 0 (initial contact), left half a stride later; joint ``{base}_{side}`` follows
    ``curve(quantity, phase)`` for each ``joints`` entry base -> quantity (default :data:`GAIT_JOINTS` with
    :func:`level_pelvis_angle`: the root keeps its default orientation), clipped to the joint's range; every other
    joint keeps the default pose (keyframe, else qpos0); couplings (joint equalities) are applied, so every frame is a pose the model allows. A free root moves
    forward at ``speed`` m/s along the direction the body faces (where hip flexion swings the thighs); a fixed root
    walks in place. ``fps`` defaults to the embodiment's control rate.
    """
    from mm_models.kinematics import apply_couplings, has_free_root

    joints = dict(joints or GAIT_JOINTS)
    fps = float(fps) if fps is not None else 1.0 / spec.physics.control_dt
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    q0 = model.key(spec.default_keyframe).qpos.copy() if spec.default_keyframe else model.qpos0.copy()
    qpos = np.tile(q0, (len(t), 1))
    hips = []
    for base, quantity in joints.items():
        for side, offset in (("r", 0.0), ("l", 0.5)):
            j = _joint_adr(model, f"{base}_{side}", spec.name, joints)
            if quantity == "hip_flexion":
                hips.append(j)
            angle = curve(quantity, (t / stride_s - offset) % 1.0)
            if model.jnt_limited[j]:
                angle = np.clip(angle, *model.jnt_range[j])
            qpos[:, model.jnt_qposadr[j]] = angle
    apply_couplings(model, qpos)
    if has_free_root(model):
        if not hips:
            raise ValueError(
                f"embodiment {spec.name!r}: a free-root walk needs a joint following 'hip_flexion' (to find the "
                f"direction the body faces); the mapping {joints} has none"
            )
        qpos[:, 0:3] += np.outer(speed * t, _heading(model, q0, hips))
    return qpos
