"""The ``tiny`` legs: anatomy (moment-arm signs), strength against gravity, contact, stability."""

from __future__ import annotations

import csv
from pathlib import Path

import mujoco
import numpy as np
import pytest

from mm_core.registry import get_embodiment

# Joint -> muscle -> expected sign of d(tendon length)/d(joint angle): a muscle that shortens as the joint angle
# grows drives it that way (flexors: negative on hip flexion / knee flexion / dorsiflexion of their joint).
FUNCTION = {
    "hip_flexion": {"iliopsoas": -1, "rectus_femoris": -1, "gluteus_maximus": 1, "hamstrings": 1},
    "knee_angle": {"rectus_femoris": 1, "vasti": 1, "hamstrings": -1, "gastrocnemius": -1},
    "ankle_angle": {"gastrocnemius": 1, "soleus": 1, "tibialis_anterior": -1},
}


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return get_embodiment("tiny").compile()


def test_sizes(model: mujoco.MjModel) -> None:
    emb = get_embodiment("tiny")
    assert (model.njnt, model.nq, model.nu, model.ntendon) == (6, 6, 16, 16)
    assert emb.root == "fixed" and len(emb.tracked_sites) == 9
    assert np.all(model.actuator_dyntype == mujoco.mjtDyn.mjDYN_MUSCLE)
    assert np.all(model.actuator_trntype == mujoco.mjtTrn.mjTRN_TENDON)
    assert np.all(model.actuator_ctrllimited) and np.all(model.actuator_ctrlrange == [0.0, 1.0])
    np.testing.assert_allclose(model.actuator_dynprm[:, :2], np.tile([0.01, 0.04], (16, 1)))
    d = mujoco.MjData(model)
    mujoco.mj_forward(model, d)
    assert d.site("mimic_pelvis").xpos[2] == pytest.approx(1.0)
    thigh = d.site("mimic_hip_l").xpos - d.site("mimic_knee_l").xpos
    shank = d.site("mimic_knee_l").xpos - d.site("mimic_ankle_l").xpos
    assert np.linalg.norm(thigh) == pytest.approx(0.43) and np.linalg.norm(shank) == pytest.approx(0.42)


@pytest.mark.parametrize("side", ["l", "r"])
def test_moment_arms_keep_their_sign_over_the_joint_range(model: mujoco.MjModel, side: str) -> None:
    d = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]
    for _ in range(300):
        q = rng.uniform(lo, hi)
        for joint, muscles in FUNCTION.items():
            adr = model.joint(f"{joint}_{side}").qposadr[0]
            lengths = []
            for dq in (-1e-6, 1e-6):
                d.qpos[:] = q
                d.qpos[adr] += dq
                mujoco.mj_fwdPosition(model, d)
                lengths.append(d.actuator_length.copy())
            arm = (lengths[1] - lengths[0]) / 2e-6
            for muscle, sign in muscles.items():
                r = sign * arm[model.actuator(f"{muscle}_{side}").id]
                assert r > 0.01, (
                    f"{muscle}_{side} on {joint}_{side} at q={np.round(q, 2)}: moment arm {r:.3f} m"
                )


@pytest.mark.parametrize(
    ("group", "joint", "start", "direction"),
    [
        ("hip_flexors", "hip_flexion", 0.0, 1),  # lifts the whole leg forward against gravity
        ("hip_extensors", "hip_flexion", 1.0, -1),
        ("knee_extensors", "knee_angle", 1.2, -1),  # straightens the shank against gravity
        ("knee_flexors", "knee_angle", 0.3, 1),
        ("plantarflexors", "ankle_angle", 0.0, -1),
        ("dorsiflexors", "ankle_angle", 0.0, 1),
    ],
)
def test_each_group_moves_its_joint(
    model: mujoco.MjModel, group: str, joint: str, start: float, direction: int
) -> None:
    emb = get_embodiment("tiny")
    d = mujoco.MjData(model)
    adr = model.joint(f"{joint}_l").qposadr[0]
    d.qpos[adr] = start
    for name in emb.muscle_groups[f"{group}_l"]:
        d.ctrl[model.actuator(name).id] = 1.0
    for _ in range(150):  # 0.3 s
        mujoco.mj_step(model, d)
    moved = direction * (d.qpos[adr] - start)
    assert moved > 0.25, f"{group}_l moved {joint}_l by {moved:+.3f} rad in 0.3 s"


def test_holds_the_thigh_up_against_gravity(model: mujoco.MjModel) -> None:
    """With the hip flexors on, the thigh stays above 45 degrees for a second (gravity pulls it down)."""
    d = mujoco.MjData(model)
    for name in ("iliopsoas_l", "rectus_femoris_l"):
        d.ctrl[model.actuator(name).id] = 1.0
    hip = model.joint("hip_flexion_l").qposadr[0]
    for _ in range(500):
        mujoco.mj_step(model, d)
    assert d.qpos[hip] > np.pi / 4
    assert abs(d.qvel[model.joint("hip_flexion_l").dofadr[0]]) < 0.5  # settled, not oscillating


def test_toes_touch_the_floor_when_pointed(model: mujoco.MjModel) -> None:
    d = mujoco.MjData(model)
    mujoco.mj_forward(model, d)
    assert d.sensor("l_toes").data[0] == 0 and d.ncon == 0  # hanging free: feet 8 cm above the floor
    d.qpos[model.joint("ankle_angle_l").qposadr[0]] = -0.69
    mujoco.mj_forward(model, d)
    assert d.ncon > 0 and d.sensor("l_toes").data[0] > 0 and d.sensor("r_toes").data[0] == 0


def test_random_activation_stays_finite_and_bounded(model: mujoco.MjModel) -> None:
    emb = get_embodiment("tiny")
    m = emb.compile()
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    for step in range(2000):  # 4 s of bang-bang-ish random control at 100 Hz
        if step % emb.physics.substeps == 0:
            d.ctrl[:] = rng.uniform(0, 1, m.nu) ** 0.5
        mujoco.mj_step(m, d)
    # MuJoCo resets a diverging simulation by itself, so finiteness alone would not notice; its warnings do.
    assert (
        d.warning[mujoco.mjtWarning.mjWARN_BADQVEL].number == 0
        and d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number == 0
    )
    assert d.time > 3.9 and np.all(np.isfinite(d.qpos))
    assert np.all(np.abs(d.qvel) < 50)
    lo, hi = m.jnt_range[:, 0] - 0.1, m.jnt_range[:, 1] + 0.1
    assert np.all((d.qpos > lo) & (d.qpos < hi))


def test_spec_is_fresh_each_call() -> None:
    emb = get_embodiment("tiny")
    a, b = emb.spec(), emb.spec()
    assert a is not b
    a.delete(a.actuators[0])
    assert b.compile().nu == 16


DATA = Path(__file__).parents[3] / ".." / "shared" / "data" / "reference" / "schwartz2008_walking.csv"


@pytest.mark.skipif(not DATA.is_file(), reason=f"gait reference data not found at {DATA} (../shared/data)")
def test_tracks_real_walking_kinematics_with_a_simple_controller(model: mujoco.MjModel) -> None:
    """A plain muscle-space PD controller tracks free-speed walking (Schwartz 2008 hip, knee, ankle curves, 1 s
    cycle, legs half a cycle apart) within 10 degrees RMS: the legs are strong, controllable and well damped, which
    is what PPO needs to learn the same in minutes."""
    rows = [r for r in csv.DictReader(DATA.open()) if r["speed_group"] == "free"]
    names = ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")
    curves = np.radians([[float(r["mean"]) for r in rows if r["variable"] == v] for v in names])  # (3, 51)
    pct = np.arange(0, 101, 2)
    # joint -> (muscle driving it positive, muscle driving it negative); one-joint muscles where the leg has them.
    pairs = {"hip_flexion": ("iliopsoas", "gluteus_maximus"), "knee_angle": ("hamstrings", "vasti")}
    pairs["ankle_angle"] = ("tibialis_anterior", "soleus")
    d = mujoco.MjData(model)
    adr = {s: [model.joint(f"{j}_{s}").qposadr[0] for j in pairs] for s in "lr"}
    dof = {s: [model.joint(f"{j}_{s}").dofadr[0] for j in pairs] for s in "lr"}
    act = {
        s: [(model.actuator(f"{p}_{s}").id, model.actuator(f"{n}_{s}").id) for p, n in pairs.values()]
        for s in "lr"
    }
    phase = {"l": 0.5, "r": 0.0}

    def ref(t: float, side: str) -> np.ndarray:
        x = (t + phase[side]) % 1.0 * 100
        return np.array([np.interp(x, pct, c) for c in curves])

    for s in "lr":
        d.qpos[adr[s]] = ref(0.0, s)
    errors = []
    for step in range(2000):  # 4 s; control at 100 Hz like the task
        t = step * model.opt.timestep
        if step % 5 == 0:
            for s in "lr":
                u = 10.0 * (ref(t + 0.01, s) - d.qpos[adr[s]]) - 0.5 * d.qvel[dof[s]]
                for k, (pos, neg) in enumerate(act[s]):
                    d.ctrl[pos], d.ctrl[neg] = np.clip(0.05 + u[k], 0, 1), np.clip(0.05 - u[k], 0, 1)
        mujoco.mj_step(model, d)
        if t >= 1.0:  # after one cycle of settling in
            errors += [d.qpos[adr[s]] - ref(t + model.opt.timestep, s) for s in "lr"]
    rms = np.degrees(np.sqrt(np.mean(np.square(errors), axis=0)))
    assert np.all(rms < 10.0), f"RMS tracking error (deg) hip, knee, ankle: {np.round(rms, 1)}"
