"""Kinematics of joint trajectories on an embodiment's model: the one home for these computations in mm.

- :func:`finite_difference_qvel`: THE velocity convention of :class:`~mm_core.contracts.MotionClip` ``qvel``:
  central differences on the joint manifold (``mj_differentiatePos``), second order inside the clip, one-sided
  (first order) at the first and last frame.
- :func:`apply_couplings` / :func:`coupling_residual`: MuJoCo's joint-equality polynomial couplings
  (``joint1 - ref1 = a0 + a1 x + a2 x^2 + a3 x^3 + a4 x^4``, ``x = joint2 - ref2``, ``ref = qpos0``; without a
  joint2 ``joint1 - ref1 = a0``), e.g. MyoFullBody's knee translations/rotations driven by the knee angle.
- :func:`site_poses` / :func:`site_kinematics`: forward kinematics of sites along a trajectory.
- :func:`qpos_width` / :func:`dof_width` / :func:`quat_slices` / :func:`has_free_root`: joint-type helpers.

All functions take a compiled ``mujoco.MjModel`` and numpy arrays; none keeps state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

# mjtJoint values (mjJNT_FREE, mjJNT_BALL, mjJNT_SLIDE, mjJNT_HINGE) -> widths in qpos and qvel; fixed by MuJoCo's
# API, written as ints because numpy integers do not compare equal to the enum members with ``in``.
_QPOS_WIDTH = {0: 7, 1: 4, 2: 1, 3: 1}
_DOF_WIDTH = {0: 6, 1: 3, 2: 1, 3: 1}


def qpos_width(joint_type: int) -> int:
    """Number of qpos coordinates of a joint of type ``joint_type`` (an ``mjtJoint``): free 7, ball 4, else 1."""
    return _QPOS_WIDTH[int(joint_type)]


def dof_width(joint_type: int) -> int:
    """Number of degrees of freedom (qvel entries) of a joint of type ``joint_type``: free 6, ball 3, else 1."""
    return _DOF_WIDTH[int(joint_type)]


def has_free_root(model: mujoco.MjModel) -> bool:
    """Whether the model's first joint is a free joint (a floating base)."""
    import mujoco

    return model.njnt > 0 and int(model.jnt_type[0]) == int(mujoco.mjtJoint.mjJNT_FREE)


def quat_slices(model: mujoco.MjModel) -> list[tuple[int, int]]:
    """qpos (start, end) of every quaternion (free joints' orientation, ball joints), in joint order."""
    import mujoco

    out = []
    for j in range(model.njnt):
        a, typ = int(model.jnt_qposadr[j]), int(model.jnt_type[j])
        if typ == int(mujoco.mjtJoint.mjJNT_FREE):
            out.append((a + 3, a + 7))
        elif typ == int(mujoco.mjtJoint.mjJNT_BALL):
            out.append((a, a + 4))
    return out


def scalar_joints(model: mujoco.MjModel, *, limited: bool = False) -> list[int]:
    """Ids of the hinge and slide joints (one qpos coordinate each); ``limited``: only those with a range."""
    return [
        j
        for j in range(model.njnt)
        if qpos_width(model.jnt_type[j]) == 1 and (not limited or bool(model.jnt_limited[j]))
    ]


def _trajectory(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    q = np.asarray(qpos, dtype=np.float64)
    if q.ndim != 2 or q.shape[1] != model.nq:
        raise ValueError(f"qpos must be (T, nq={model.nq}), got shape {q.shape}")
    return q


def finite_difference_qvel(model: mujoco.MjModel, qpos: np.ndarray, fps: float) -> np.ndarray:
    """Velocities (T, nv) of the trajectory qpos (T, nq) sampled at ``fps``: the ``MotionClip.qvel`` convention.

    Frame i gets ``differentiatePos(qpos[i-1] -> qpos[i+1]) / (2 dt)`` (central, second order); the first frame
    ``(qpos[1] - qpos[0]) / dt`` and the last ``(qpos[-1] - qpos[-2]) / dt`` (one-sided); a single frame gets 0.
    Quaternions are differentiated on the manifold (free joints: world-frame linear velocity, body-frame angular
    velocity, as MuJoCo's qvel).
    """
    import mujoco

    q = _trajectory(model, qpos)
    t = len(q)
    v = np.zeros((t, model.nv))
    dt = 1.0 / float(fps)
    for i in range(t):
        a, b = max(i - 1, 0), min(i + 1, t - 1)
        if a != b:
            mujoco.mj_differentiatePos(model, v[i], dt * (b - a), q[a], q[b])
    return v


def _joint_equalities(model: mujoco.MjModel) -> list[int]:
    import mujoco

    return [
        e
        for e in range(model.neq)
        if int(model.eq_type[e]) == int(mujoco.mjtEq.mjEQ_JOINT) and model.eq_active0[e]
    ]


def _coupled_value(model: mujoco.MjModel, e: int, qpos: np.ndarray) -> np.ndarray:
    """What joint1 of equality ``e`` must be for qpos (..., nq): qpos0 + poly(joint2 - qpos0)."""
    a1 = int(model.jnt_qposadr[model.eq_obj1id[e]])
    c = model.eq_data[e, :5]
    if model.eq_obj2id[e] < 0:
        return np.full(qpos.shape[:-1], model.qpos0[a1] + c[0])
    a2 = int(model.jnt_qposadr[model.eq_obj2id[e]])
    x = qpos[..., a2] - model.qpos0[a2]
    return model.qpos0[a1] + c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * c[4])))


def apply_couplings(model: mujoco.MjModel, qpos: np.ndarray) -> np.ndarray:
    """Put every joint driven by an active joint equality on its polynomial, in place on qpos (nq,) or (T, nq).

    Equalities are applied in model order (a joint driven by a driven joint needs its driver listed first, as
    MuJoCo models do). Returns ``qpos``.
    """
    if qpos.shape[-1] != model.nq:
        raise ValueError(f"qpos must be (nq={model.nq},) or (T, nq), got shape {qpos.shape}")
    for e in _joint_equalities(model):
        qpos[..., int(model.jnt_qposadr[model.eq_obj1id[e]])] = _coupled_value(model, e, qpos)
    return qpos


def coupling_residual(model: mujoco.MjModel, qpos: np.ndarray) -> float | None:
    """Largest violation |joint1 - coupled value| over the active joint equalities and frames; None if none."""
    eqs = _joint_equalities(model)
    if not eqs:
        return None
    q = np.asarray(qpos, dtype=np.float64)
    return max(
        float(
            np.max(np.abs(q[..., int(model.jnt_qposadr[model.eq_obj1id[e]])] - _coupled_value(model, e, q)))
        )
        for e in eqs
    )


def site_kinematics(
    model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray | None, sites: np.ndarray
) -> dict[str, np.ndarray]:
    """Forward kinematics of the site ids ``sites`` (S,) along qpos (T, nq) [and qvel (T, nv)].

    Returns ``pos (T, S, 3)``, ``quat (T, S, 4)`` (w-x-y-z) and ``xmat (T, S, 3, 3)`` in the world frame, and with
    qvel also ``linvel`` / ``angvel (T, S, 3)``: the sites' world-frame velocities (``mj_objectVelocity``).
    """
    import mujoco

    q = _trajectory(model, qpos)
    sites = np.asarray(sites, dtype=np.int64)
    t, s = len(q), len(sites)
    d = mujoco.MjData(model)
    out = {"pos": np.zeros((t, s, 3)), "quat": np.zeros((t, s, 4)), "xmat": np.zeros((t, s, 3, 3))}
    if qvel is not None:
        out["linvel"], out["angvel"] = np.zeros((t, s, 3)), np.zeros((t, s, 3))
    vel6 = np.zeros(6)
    for i in range(t):
        d.qpos[:] = q[i]
        mujoco.mj_kinematics(model, d)
        if qvel is not None:
            d.qvel[:] = qvel[i]
            mujoco.mj_comPos(model, d)
            mujoco.mj_comVel(model, d)
        out["pos"][i] = d.site_xpos[sites]
        out["xmat"][i] = d.site_xmat[sites].reshape(s, 3, 3)
        for k, sid in enumerate(sites):
            mujoco.mju_mat2Quat(out["quat"][i, k], d.site_xmat[sid])
            if qvel is not None:
                mujoco.mj_objectVelocity(model, d, mujoco.mjtObj.mjOBJ_SITE, int(sid), vel6, 0)
                out["angvel"][i, k], out["linvel"][i, k] = vel6[:3], vel6[3:]
    return out


def site_poses(
    model: mujoco.MjModel, qpos: np.ndarray, site_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, S, 3) and rotation matrices (T, S, 3, 3) of the sites ``site_ids`` along qpos (T, nq).

    Quaternions (w-x-y-z) and velocities: :func:`site_kinematics`.
    """
    kin = site_kinematics(model, qpos, None, site_ids)
    return kin["pos"], kin["xmat"]


def site_ids(model: mujoco.MjModel, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Site ids (S,) of ``names``; fails naming the sites the model lacks."""
    import mujoco

    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, n) for n in names]
    missing = [n for n, i in zip(names, ids, strict=True) if i < 0]
    if missing:
        raise ValueError(f"sites {missing} not in the model (it has {model.nsite} sites)")
    return np.asarray(ids, dtype=np.int64)
