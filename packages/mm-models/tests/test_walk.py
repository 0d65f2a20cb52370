"""mm_models.walk: the gait curves against the published data, and the walk on the real free-root MyoFullBody."""

from __future__ import annotations

import csv
from pathlib import Path

import mujoco
import numpy as np
import pytest

from mm_core import get_embodiment
from mm_core.testing import JOINT_LIMIT_TOL
from mm_models.kinematics import coupling_residual, has_free_root, qpos_width
from mm_models.walk import GAIT_FOURIER, GAIT_JOINTS, gait_angle, level_pelvis_angle, walk_qpos

DATA = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "reference" / "schwartz2008_walking.csv"
)


@pytest.mark.skipif(not DATA.is_file(), reason="needs ../shared/data (the gait reference curves)")
def test_gait_curves_fit_the_published_free_speed_means() -> None:
    rows: dict[str, list[tuple[float, float]]] = {}
    with DATA.open() as f:
        for r in csv.DictReader(f):
            if r["speed_group"] == "free" and r["variable"] in GAIT_FOURIER:
                rows.setdefault(r["variable"], []).append((float(r["percent_cycle"]), float(r["mean"])))
    assert set(rows) == set(GAIT_FOURIER)
    for name, pts in rows.items():
        pct, mean = np.array(pts).T
        rms = np.sqrt(np.mean((np.degrees(gait_angle(name, pct / 100)) - mean) ** 2))
        assert rms < 1.3, (name, rms)
    # a level pelvis: the thigh's angle from the vertical is hip flexion minus the mean anterior pelvic tilt
    phase = np.linspace(0, 1, 7)
    np.testing.assert_allclose(
        level_pelvis_angle("hip_flexion", phase),
        gait_angle("hip_flexion", phase) - np.radians(11.59),
        atol=1e-15,
    )
    np.testing.assert_array_equal(
        level_pelvis_angle("knee_flexion", phase), gait_angle("knee_flexion", phase)
    )
    with pytest.raises(ValueError, match="unknown gait curve 'elbow'"):
        gait_angle("elbow", np.zeros(1))


def _adr(m: mujoco.MjModel, name: str) -> int:
    return int(m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)])


def test_walk_on_myofullbody_is_a_coupled_pose_inside_the_ranges_moving_forward() -> None:
    spec = get_embodiment("myofullbody-nofingers")
    m = spec.compile()
    fps, stride, speed = 100.0, 1.1, 1.2
    q = walk_qpos(m, spec, seconds=2.2, fps=fps, stride_s=stride, speed=speed)
    t = np.arange(221) / fps
    assert q.shape == (221, m.nq)
    # the curves, by joint name, right at phase 0 and left half a stride later (clipped to the joint's range)
    for base, quantity in GAIT_JOINTS.items():
        for side, offset in (("r", 0.0), ("l", 0.5)):
            j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, f"{base}_{side}")
            want = np.clip(level_pelvis_angle(quantity, (t / stride - offset) % 1.0), *m.jnt_range[j])
            np.testing.assert_allclose(q[:, _adr(m, f"{base}_{side}")], want, atol=1e-12)
    # every frame satisfies the couplings (the knee's translations/rotations follow the knee angle) ...
    assert coupling_residual(m, q) < 1e-12
    beta = q[:, _adr(m, "knee_angle_beta_translation2_r")]
    assert np.ptp(beta) > 0.005  # it moves with the knee (qpos0 = 0 is outside its range)
    # ... and is inside every joint range (the model's own polynomials overshoot their ranges by < 3e-4)
    for j in range(m.njnt):
        if m.jnt_limited[j] and qpos_width(m.jnt_type[j]) == 1:
            lo, hi = m.jnt_range[j]
            v = q[:, m.jnt_qposadr[j]]
            assert v.min() >= lo - JOINT_LIMIT_TOL and v.max() <= hi + JOINT_LIMIT_TOL, m.joint(j).name
    # the root moves at `speed` along the feet's heel-to-toe direction (an independent route to "forward")
    assert has_free_root(m)
    d = mujoco.MjData(m)
    d.qpos[:] = q[0]
    mujoco.mj_kinematics(m, d)
    site = {n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, n) for n in spec.tracked_sites}
    heel_toe = sum(d.site_xpos[site[f"mimic_toes_{s}"]] - d.site_xpos[site[f"mimic_ankle_{s}"]] for s in "lr")
    heel_toe[2] = 0.0
    step = q[-1, :3] - q[0, :3]
    assert np.linalg.norm(step) == pytest.approx(speed * t[-1], rel=1e-9)
    assert step @ heel_toe / np.linalg.norm(step) / np.linalg.norm(heel_toe) > 0.99
    np.testing.assert_array_equal(q[:, 3:7], np.tile(m.qpos0[3:7], (len(t), 1)))


def test_walk_on_tiny_stays_in_place_at_the_control_rate() -> None:
    spec = get_embodiment("tiny")
    m = spec.compile()
    q = walk_qpos(m, spec, seconds=1.0)
    assert q.shape == (101, m.nq)  # tiny's control rate: 100 Hz
    t = np.arange(101) / 100.0
    np.testing.assert_allclose(
        q[:, _adr(m, "knee_angle_l")],
        np.clip(gait_angle("knee_flexion", (t / 1.1 - 0.5) % 1), 0, None),
        atol=1e-12,
    )
    # a curve outside a joint's range is clipped to it
    far = walk_qpos(m, spec, seconds=0.1, curve=lambda quantity, phase: np.full_like(phase, 5.0))
    assert np.all(
        far[:, _adr(m, "knee_angle_r")]
        == m.jnt_range[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "knee_angle_r")][1]
    )
    with pytest.raises(ValueError, match="has no joint 'elbow_r'"):
        walk_qpos(m, spec, joints={"elbow": "knee_flexion"})
