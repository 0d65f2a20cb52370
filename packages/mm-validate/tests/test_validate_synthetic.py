"""The synthetic walk is a pose the model allows in every frame: inside every joint range, couplings satisfied."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

from mm_core import get_embodiment
from mm_validate.reference import load_reference
from mm_validate.synthetic import synthetic_walk

pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")

REF_DIR = Path(__file__).parents[3] / ".." / "shared" / "data" / "reference"


@pytest.mark.skipif(
    not (REF_DIR / "schwartz2008_walking.csv").is_file(), reason=f"reference data absent: {REF_DIR}"
)
def test_synthetic_walk_respects_joint_ranges_and_couplings() -> None:
    from mm_core.testing import JOINT_LIMIT_TOL
    from mm_models.kinematics import coupling_residual, finite_difference_qvel, qpos_width

    ref = load_reference("schwartz2008-walking-free", REF_DIR)
    clip = synthetic_walk("myofullbody-nofingers", ref, seconds=2.2)
    m = get_embodiment("myofullbody-nofingers").compile()
    for j in range(m.njnt):
        if m.jnt_limited[j] and qpos_width(m.jnt_type[j]) == 1:
            lo, hi = m.jnt_range[j]
            q = clip.qpos[:, m.jnt_qposadr[j]]
            over = max(lo - q.min(), q.max() - hi)
            assert over <= JOINT_LIMIT_TOL, (m.joint(j).name, lo, hi, q.min(), q.max())
    # MuJoCo's joint equalities, checked by hand: joint1 - ref1 = poly(joint2 - ref2) (ref = qpos0)
    for e in range(m.neq):
        if m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT and m.eq_active0[e] and m.eq_obj2id[e] >= 0:
            a1, a2 = m.jnt_qposadr[m.eq_obj1id[e]], m.jnt_qposadr[m.eq_obj2id[e]]
            x = clip.qpos[:, a2] - m.qpos0[a2]
            want = m.qpos0[a1] + np.polyval(m.eq_data[e, :5][::-1], x)
            np.testing.assert_allclose(
                clip.qpos[:, a1], want, atol=1e-12, err_msg=m.joint(m.eq_obj1id[e]).name
            )
    assert coupling_residual(m, clip.qpos) < 1e-12
    # velocities by the MotionClip convention (they were zeros before), the knee really bends
    np.testing.assert_allclose(clip.qvel, finite_difference_qvel(m, clip.qpos, clip.fps))
    knee = clip.qpos[:, m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "knee_angle_r")]]
    assert np.degrees(np.ptp(knee)) > 50
