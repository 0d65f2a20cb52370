"""Motions made from joint trajectories: forward kinematics of tracked sites and kinematic test motions.

``clip_from_qpos`` is the one place where a joint trajectory becomes a :class:`~mm_core.contracts.MotionClip`
(velocities by ``mj_differentiatePos``, site poses by forward kinematics); the retargeter and the tests use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_core.contracts import EmbodimentSpec, MotionClip


def _ids(model: mujoco.MjModel, objtype: int, names: tuple[str, ...] | list[str], what: str) -> np.ndarray:
    import mujoco

    ids = [mujoco.mj_name2id(model, objtype, n) for n in names]
    missing = [n for n, i in zip(names, ids, strict=True) if i < 0]
    if missing:
        raise ValueError(f"{what} {missing} not in the model")
    return np.asarray(ids, dtype=np.int64)


def site_ids(model: mujoco.MjModel, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Site ids (S,) of ``names``; fails naming the missing sites."""
    import mujoco

    return _ids(model, mujoco.mjtObj.mjOBJ_SITE, names, "sites")


def finite_difference_qvel(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> np.ndarray:
    """Velocities (T, nv) of a trajectory qpos (T, nq) by forward differences (last frame repeats the previous)."""
    import mujoco

    t = qpos.shape[0]
    qvel = np.zeros((t, model.nv))
    for i in range(t - 1):
        mujoco.mj_differentiatePos(model, qvel[i], 1.0 / fps, qpos[i], qpos[i + 1])
    qvel[-1] = qvel[-2]
    return qvel


def site_kinematics(
    model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray | None, sites: np.ndarray
) -> dict[str, np.ndarray]:
    """Forward kinematics of ``sites`` (S,) along qpos (T, nq) [and qvel (T, nv)].

    Returns ``pos (T, S, 3)``, ``quat (T, S, 4)`` (w-x-y-z) and ``xmat (T, S, 3, 3)`` in the world frame, and with
    qvel also ``linvel``/``angvel (T, S, 3)``: the sites' world-frame velocities.
    """
    import mujoco

    t, s = qpos.shape[0], len(sites)
    d = mujoco.MjData(model)
    out = {"pos": np.zeros((t, s, 3)), "quat": np.zeros((t, s, 4)), "xmat": np.zeros((t, s, 3, 3))}
    if qvel is not None:
        out["linvel"], out["angvel"] = np.zeros((t, s, 3)), np.zeros((t, s, 3))
    vel6 = np.zeros(6)
    for i in range(t):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, d)
        if qvel is not None:
            d.qvel[:] = qvel[i]
            mujoco.mj_comPos(model, d)
            mujoco.mj_comVel(model, d)
        out["pos"][i] = d.site_xpos[sites]
        out["xmat"][i] = d.site_xmat[sites].reshape(s, 3, 3)
        for j, sid in enumerate(sites):
            mujoco.mju_mat2Quat(out["quat"][i, j], d.site_xmat[sid])
            if qvel is not None:
                mujoco.mj_objectVelocity(model, d, mujoco.mjtObj.mjOBJ_SITE, int(sid), vel6, 0)
                out["angvel"][i, j], out["linvel"][i, j] = vel6[:3], vel6[3:]
    return out


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
    """A MotionClip from a joint trajectory qpos (T, nq) at ``fps``: qvel by finite differences, sites by FK."""
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


def _apply_joint_couplings(model: mujoco.MjModel, qpos: np.ndarray) -> None:
    """Set joints driven by joint-equality constraints (q1 = poly(q2)) so the motion satisfies them."""
    import mujoco

    for e in range(model.neq):
        if model.eq_type[e] != mujoco.mjtEq.mjEQ_JOINT or not model.eq_active0[e]:
            continue
        j1, j2 = model.eq_obj1id[e], model.eq_obj2id[e]
        a1 = model.jnt_qposadr[j1]
        c = model.eq_data[e, :5]
        dq = qpos[:, model.jnt_qposadr[j2]] - model.qpos0[model.jnt_qposadr[j2]] if j2 >= 0 else 0.0
        qpos[:, a1] = model.qpos0[a1] + c[0] + c[1] * dq + c[2] * dq**2 + c[3] * dq**3 + c[4] * dq**4


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
    """A kinematic test motion: every limited hinge/slide joint swings sinusoidally inside its range.

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
    _apply_joint_couplings(model, qpos)
    return clip_from_qpos(
        model, spec, qpos, fps, name=name, source=f"mm_sim.motion.sinusoid_clip(seed={seed})"
    )
