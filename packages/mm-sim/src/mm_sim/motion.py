"""Motions made from joint trajectories: :func:`clip_from_qpos` and the kinematic test motion :func:`sinusoid_clip`.

``clip_from_qpos`` is the one place where a joint trajectory becomes a :class:`~mm_core.contracts.MotionClip`
(velocities by the ``MotionClip.qvel`` convention, site poses by forward kinematics). The kinematics themselves
live in :mod:`mm_models.kinematics` (re-exported here: ``site_ids``, ``site_kinematics``,
``finite_difference_qvel``); walks in :mod:`mm_models.walk`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mm_models.kinematics import apply_couplings, finite_difference_qvel, site_ids, site_kinematics

__all__ = [
    "clip_from_qpos",
    "finite_difference_qvel",
    "initial_qpos",
    "joint_names",
    "sinusoid_clip",
    "site_ids",
    "site_kinematics",
]

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_core.contracts import EmbodimentSpec, MotionClip


def joint_names(model: mujoco.MjModel) -> tuple[str, ...]:
    import mujoco

    return tuple(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or "" for j in range(model.njnt))


def clip_from_qpos(
    model: mujoco.MjModel,
    spec: EmbodimentSpec,
    qpos: np.ndarray,
    fps: float,
    *,
    name: str = "",
    source: str = "",
    metadata: dict | None = None,
) -> MotionClip:
    """A MotionClip from a joint trajectory qpos (T, nq) at ``fps``: qvel by central differences
    (:func:`mm_models.kinematics.finite_difference_qvel`, the ``MotionClip.qvel`` convention), sites by FK."""
    from mm_core.contracts import MotionClip

    qpos = np.asarray(qpos, dtype=np.float64)
    if qpos.ndim != 2 or qpos.shape[1] != model.nq:
        raise ValueError(f"qpos must be (T, nq={model.nq}) for embodiment {spec.name!r}, got {qpos.shape}")
    if qpos.shape[0] < 2:
        raise ValueError(f"qpos needs at least 2 frames, got {qpos.shape[0]}")
    qvel = finite_difference_qvel(model, qpos, fps)
    kin = site_kinematics(model, qpos, None, site_ids(model, spec.tracked_sites))
    return MotionClip(
        fps=float(fps),
        qpos=qpos,
        qvel=qvel,
        site_pos=kin["pos"],
        site_quat=kin["quat"],
        site_names=tuple(spec.tracked_sites),
        joint_names=joint_names(model),
        embodiment=spec.name,
        name=name,
        source=source,
        metadata=dict(metadata or {}),
    )


def initial_qpos(model: mujoco.MjModel, spec: EmbodimentSpec) -> np.ndarray:
    """The embodiment's default pose (its keyframe, else qpos0) (nq,)."""
    if spec.default_keyframe is not None:
        return model.key(spec.default_keyframe).qpos.copy()
    return model.qpos0.copy()


def sinusoid_clip(
    model: mujoco.MjModel,
    spec: EmbodimentSpec,
    *,
    seconds: float = 2.0,
    fps: float = 100.0,
    amplitude: float = 0.25,
    seed: int = 0,
    name: str = "sinusoid",
) -> MotionClip:
    """A kinematic test motion (a fixture for tests and benchmarks, not a walk: for one see :mod:`mm_models.walk`):
    every limited hinge/slide joint swings sinusoidally inside its range.

    Joint j follows default_j + amplitude * half_range_j * sin(2 pi f_j t + phase_j), clipped to its range,
    f_j in [0.3, 1] Hz (random with ``seed``); joints coupled by joint-equality constraints follow their polynomial; a free root keeps the default
    pose and walks forward at 0.3 m/s with a slow yaw sway.
    """
    import mujoco

    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fps)) + 1) / fps
    q0 = initial_qpos(model, spec)
    qpos = np.tile(q0, (len(t), 1))
    for j in range(model.njnt):
        # int(): numpy integers do not compare equal to MuJoCo's enum members.
        typ, adr = int(model.jnt_type[j]), int(model.jnt_qposadr[j])
        if typ == mujoco.mjtJoint.mjJNT_FREE:
            qpos[:, adr] += 0.3 * t
            yaw = 0.2 * np.sin(2 * np.pi * 0.5 * t)
            base = q0[adr + 3 : adr + 7]
            for i, a in enumerate(yaw):
                dq = np.array([np.cos(a / 2), 0.0, 0.0, np.sin(a / 2)])
                mujoco.mju_mulQuat(qpos[i, adr + 3 : adr + 7], dq, base)
        elif (
            typ in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
            and model.jnt_limited[j]
        ):
            lo, hi = model.jnt_range[j]
            f, phase = rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)
            swing = amplitude * 0.5 * (hi - lo) * np.sin(2 * np.pi * f * t + phase)
            qpos[:, adr] = np.clip(q0[adr] + swing, lo, hi)
    apply_couplings(model, qpos)
    return clip_from_qpos(
        model, spec, qpos, fps, name=name, source=f"mm_sim.motion.sinusoid_clip(seed={seed})"
    )
