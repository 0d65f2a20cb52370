"""mm_models.kinematics checked by value on the real free-root MyoFullBody (and tiny)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from mm_core import get_embodiment
from mm_models.kinematics import (
    apply_couplings,
    coupling_residual,
    dof_width,
    finite_difference_qvel,
    has_free_root,
    qpos_width,
    quat_slices,
    site_ids,
    site_kinematics,
    site_poses,
)

FPS = 50.0


@pytest.fixture(scope="module")
def body() -> mujoco.MjModel:
    return get_embodiment("myofullbody-nofingers").compile()


def _joint(m: mujoco.MjModel, name: str) -> int:
    return int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)])


def _axis_quat(axis: np.ndarray, angle: float) -> np.ndarray:
    return np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])


def test_central_difference_matches_an_analytic_trajectory(body: mujoco.MjModel) -> None:
    """Root position and a hinge quadratic in time, the root turning about a fixed body axis by a quadratic angle:
    central differences are exact inside the clip, the ends are the one-sided differences."""
    m = body
    t = np.arange(12) / FPS
    dt = 1.0 / FPS
    q0 = m.qpos0.copy()
    q0[3:7] = _axis_quat(np.array([0.6, 0.0, 0.8]), 0.3)  # a tilted start orientation
    axis = np.array([0.0, 0.6, 0.8])
    p_v, p_a = np.array([1.2, -0.3, 0.1]), np.array([0.5, 0.2, -0.4])
    w, alpha = 2.0, -3.0  # theta(t) = w t + alpha t^2 about `axis` (body frame)
    knee, b, c = _joint(m, "knee_angle_r"), 1.5, -2.0
    qpos = np.tile(q0, (len(t), 1))
    for i, ti in enumerate(t):
        qpos[i, 0:3] = q0[0:3] + p_v * ti + p_a * ti**2
        mujoco.mju_mulQuat(qpos[i, 3:7], q0[3:7], _axis_quat(axis, w * ti + alpha * ti**2))
        qpos[i, knee] = 0.2 + b * ti + c * ti**2
    v = finite_difference_qvel(m, qpos, FPS)
    assert v.shape == (len(t), m.nv)
    knee_dof = int(m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "knee_angle_r")])
    inner = slice(1, -1)
    np.testing.assert_allclose(v[inner, 0:3], p_v + 2 * p_a * t[inner, None], atol=1e-9)
    np.testing.assert_allclose(v[inner, 3:6], np.outer(w + 2 * alpha * t[inner], axis), atol=1e-9)
    np.testing.assert_allclose(v[inner, knee_dof], b + 2 * c * t[inner], atol=1e-9)
    # one-sided at the ends: (x(dt) - x(0)) / dt and (x(T) - x(T - dt)) / dt
    np.testing.assert_allclose(v[0, knee_dof], b + c * dt, atol=1e-9)
    np.testing.assert_allclose(v[-1, knee_dof], b + c * (t[-1] + t[-2]), atol=1e-9)
    np.testing.assert_allclose(v[0, 3:6], (w + alpha * dt) * axis, atol=1e-9)
    others = np.ones(m.nv, dtype=bool)
    others[[0, 1, 2, 3, 4, 5, knee_dof]] = False
    assert np.all(v[:, others] == 0.0)
    assert np.all(finite_difference_qvel(m, qpos[:1], FPS) == 0.0)


def test_couplings_match_the_knee_polynomials_by_hand(body: mujoco.MjModel) -> None:
    m = body
    qpos = m.qpos0.copy()
    knee = _joint(m, "knee_angle_r")
    qpos[knee] = 1.1
    driven = {}
    for e in range(m.neq):
        joint_eq = m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT and m.eq_obj2id[e] >= 0
        if joint_eq and m.joint(int(m.eq_obj2id[e])).name == "knee_angle_r":
            driven[m.joint(int(m.eq_obj1id[e])).name] = m.eq_data[e, :5].copy()
    assert "knee_angle_beta_translation2_r" in driven and len(driven) >= 4
    out = apply_couplings(m, qpos)
    assert out is qpos
    for name, c in driven.items():
        x = 1.1  # knee_angle_r - its qpos0 (0)
        by_hand = m.qpos0[_joint(m, name)] + c[0] + c[1] * x + c[2] * x**2 + c[3] * x**3 + c[4] * x**4
        assert qpos[_joint(m, name)] == pytest.approx(by_hand, abs=1e-12), name
    assert coupling_residual(m, qpos) == pytest.approx(0.0, abs=1e-12)
    # MuJoCo's own constraint rows agree: every joint-equality violation is zero after apply_couplings
    d = mujoco.MjData(m)
    d.qpos[:] = qpos
    mujoco.mj_forward(m, d)
    rows = [r for r in range(d.nefc) if d.efc_type[r] == mujoco.mjtConstraint.mjCNSTR_EQUALITY]
    joint_eq = [r for r in rows if m.eq_type[d.efc_id[r]] == mujoco.mjtEq.mjEQ_JOINT]
    assert joint_eq and np.max(np.abs(d.efc_pos[joint_eq])) < 1e-9
    # a trajectory (T, nq) is coupled per frame; the residual is the largest violation
    traj = np.tile(m.qpos0, (3, 1))
    traj[:, knee] = [0.0, 0.5, 1.5]
    apply_couplings(m, traj)
    beta = _joint(m, "knee_angle_beta_translation2_r")
    c = driven["knee_angle_beta_translation2_r"]
    np.testing.assert_allclose(traj[:, beta], np.polyval(c[::-1], traj[:, knee]) + m.qpos0[beta], atol=1e-12)
    traj[2, beta] += 0.01
    assert coupling_residual(m, traj) == pytest.approx(0.01, abs=1e-12)


def test_no_couplings_on_a_model_without_joint_equalities() -> None:
    m = get_embodiment("tiny").compile()
    q = np.tile(m.qpos0, (2, 1)) + 0.1
    assert coupling_residual(m, q) is None
    np.testing.assert_array_equal(apply_couplings(m, q.copy()), q)


def test_site_poses_match_body_frames(body: mujoco.MjModel) -> None:
    """Site pose = body pose (mj_kinematics) composed with the site's local offset, along a moving trajectory."""
    m = body
    spec = get_embodiment("myofullbody-nofingers")
    ids = site_ids(m, spec.tracked_sites)
    rng = np.random.default_rng(0)
    qpos = np.tile(m.qpos0, (4, 1))
    qpos[:, 0:3] += rng.normal(size=(4, 3))
    for i in range(4):
        qpos[i, 3:7] = _axis_quat(np.array([0.0, 0.0, 1.0]), rng.uniform(-3, 3))
    qpos[:, 7:] += rng.uniform(-0.2, 0.2, size=(4, m.nq - 7))
    pos, mat = site_poses(m, qpos, ids)
    assert pos.shape == (4, len(ids), 3) and mat.shape == (4, len(ids), 3, 3)
    d = mujoco.MjData(m)
    local = np.zeros(9)
    for i in range(4):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        for k, s in enumerate(ids):
            b = m.site_bodyid[s]
            bmat = d.xmat[b].reshape(3, 3)
            mujoco.mju_quat2Mat(local, m.site_quat[s])
            np.testing.assert_allclose(pos[i, k], d.xpos[b] + bmat @ m.site_pos[s], atol=1e-12)
            np.testing.assert_allclose(mat[i, k], bmat @ local.reshape(3, 3), atol=1e-12)
    kin = site_kinematics(m, qpos, None, ids)
    back = np.zeros(9)
    for i in range(4):
        for k in range(len(ids)):
            mujoco.mju_quat2Mat(back, kin["quat"][i, k])
            np.testing.assert_allclose(back.reshape(3, 3), mat[i, k], atol=1e-12)
    with pytest.raises(ValueError, match="no_such_site"):
        site_ids(m, ["no_such_site"])


def test_site_velocities_match_differences_of_site_positions(body: mujoco.MjModel) -> None:
    m = body
    ids = site_ids(m, get_embodiment("myofullbody-nofingers").tracked_sites)
    fps = 1000.0
    t = np.arange(5) / fps
    qpos = np.tile(m.qpos0, (len(t), 1))
    qpos[:, 0] += 0.8 * t
    qpos[:, _joint(m, "hip_flexion_r")] = 0.3 + 2.0 * t
    apply_couplings(m, qpos)
    qvel = finite_difference_qvel(m, qpos, fps)
    kin = site_kinematics(m, qpos, qvel, ids)
    fd = (kin["pos"][3] - kin["pos"][1]) * fps / 2
    np.testing.assert_allclose(kin["linvel"][2], fd, atol=1e-4)
    assert np.abs(kin["linvel"][2]).max() > 0.5


def test_joint_type_helpers(body: mujoco.MjModel) -> None:
    m = body
    widths = [qpos_width(m.jnt_type[j]) for j in range(m.njnt)]
    dofs = [dof_width(m.jnt_type[j]) for j in range(m.njnt)]
    assert sum(widths) == m.nq and sum(dofs) == m.nv
    assert widths[0] == 7 and dofs[0] == 6 and has_free_root(m)
    assert quat_slices(m) == [(3, 7)]
    tiny = get_embodiment("tiny").compile()
    assert not has_free_root(tiny) and quat_slices(tiny) == []
