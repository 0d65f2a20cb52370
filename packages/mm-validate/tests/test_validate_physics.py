"""Ground reaction forces checked against Newton's law on a real MyoFullBody drop (C MuJoCo, 0.3 s)."""

from __future__ import annotations

import numpy as np
import pytest

from mm_core import get_embodiment
from mm_validate.quantities import Recording, build_joint_map, compute_signals

# The embodiments these tests run on come from mm-models (a dev-workspace package, not a dependency of mm-validate).
pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")


def test_grf_impulse_equals_momentum_change() -> None:
    import mujoco

    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    data = mujoco.MjData(model)
    steps = 150  # 0.3 s: the passive body sags onto its feet; nothing but the feet touches the floor yet
    frames: dict[str, list[np.ndarray]] = {"qpos": [], "qvel": [], "act": [], "ctrl": []}
    vz = []
    mujoco.mj_step(model, data)  # from here on the solver is warm-started, as in the replay
    for _ in range(steps + 1):
        mujoco.mj_subtreeVel(model, data)
        vz.append(float(data.subtree_linvel[0, 2]))  # centre-of-mass velocity
        for k in frames:
            frames[k].append(getattr(data, k).copy())
        mujoco.mj_step(model, data)
    dt = model.opt.timestep
    arrays = {k: np.array(v[:steps]) for k, v in frames.items()}
    rec = Recording(fps=1.0 / dt, dynamic=True, **arrays)
    jm = build_joint_map(model, dict(spec.feet))
    sig = compute_signals(model, jm, rec)
    assert sig.foot_force is not None
    # Every step, the same forces the simulation applied: impulse of the GRF = momentum change + weight impulse.
    impulse = float(sig.foot_force[..., 2].sum()) * dt
    expected = jm.mass * (vz[steps] - vz[0]) + jm.mass * 9.81 * steps * dt
    assert impulse == pytest.approx(expected, rel=0.02)
    # Both feet carry load, upward, normalised by body weight.
    bw = sig.values["grf_vertical"]
    assert bw.shape == (steps, 2) and np.all(bw >= 0) and np.all(bw[-20:].mean(axis=0) > 0.05)
