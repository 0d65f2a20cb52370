"""The four MyoSuite-based embodiments against the facts sheet (counts, finger removal, sites, groups)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from mm_core.registry import get_embodiment
from mm_models.myo import BIMANUAL_SITES, FULLBODY_SITES, finger_joint_names, finger_muscle_names

# name -> (root, joints, nq, nv, muscles, tendons, joint equalities), from the facts sheet's model table.
FACTS = {
    "myofullbody": ("free", 123, 129, 128, 416, 424, 51),
    "myofullbody-nofingers": ("free", 83, 89, 88, 354, 362, 51),
    "bimanual": ("fixed", 76, 76, 76, 126, 134, 22),
    "bimanual-nofingers": ("fixed", 36, 36, 36, 64, 72, 22),
}
# name -> (sites, bodies, geoms) of the unedited XML; we add only the tracked sites.
XML_SIZES = {"myofullbody": (2021, 102, 416), "bimanual": (1016, 77, 310)}


@pytest.fixture(scope="module", params=sorted(FACTS))
def compiled(request: pytest.FixtureRequest) -> tuple[str, mujoco.MjModel]:
    return request.param, get_embodiment(request.param).compile()


def test_counts_match_facts_sheet(compiled: tuple[str, mujoco.MjModel]) -> None:
    name, m = compiled
    root, njnt, nq, nv, nu, ntendon, neq = FACTS[name]
    emb = get_embodiment(name)
    assert emb.root == root
    assert (m.njnt, m.nq, m.nv, m.nu, m.na, m.ntendon, m.neq) == (njnt, nq, nv, nu, nu, ntendon, neq)
    assert all(m.eq_type[i] == mujoco.mjtEq.mjEQ_JOINT for i in range(m.neq))
    assert (m.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE) == (root == "free")
    nsite, nbody, ngeom = XML_SIZES[name.removesuffix("-nofingers")]
    assert (m.nsite, m.nbody, m.ngeom) == (nsite + len(emb.tracked_sites), nbody, ngeom)


def test_every_actuator_is_a_tendon_muscle(compiled: tuple[str, mujoco.MjModel]) -> None:
    _, m = compiled
    muscle = mujoco.mjtDyn.mjDYN_MUSCLE
    assert np.all(m.actuator_dyntype == muscle)
    assert np.all(m.actuator_gaintype == mujoco.mjtGain.mjGAIN_MUSCLE)
    assert np.all(m.actuator_biastype == mujoco.mjtBias.mjBIAS_MUSCLE)
    assert np.all(m.actuator_trntype == mujoco.mjtTrn.mjTRN_TENDON)
    # The ctrl range that acts (muscle dynamics clamp to [0, 1]), not the XML's [-1, 1].
    assert np.all(m.actuator_ctrllimited) and np.all(m.actuator_ctrlrange == [0.0, 1.0])


@pytest.mark.parametrize("model", ["myofullbody", "bimanual"])
def test_finger_removal_removes_exactly_the_fingers(model: str) -> None:
    full, nof = get_embodiment(model).compile(), get_embodiment(f"{model}-nofingers").compile()

    def names(m: mujoco.MjModel, obj: mujoco.mjtObj, n: int) -> set[str]:
        return {mujoco.mj_id2name(m, obj, i) for i in range(n)}

    o = mujoco.mjtObj
    fjoints = set(finger_joint_names())
    assert names(full, o.mjOBJ_JOINT, full.njnt) - names(nof, o.mjOBJ_JOINT, nof.njnt) == fjoints
    assert names(full, o.mjOBJ_ACTUATOR, full.nu) - names(nof, o.mjOBJ_ACTUATOR, nof.nu) == set(
        finger_muscle_names()
    )
    assert len(fjoints) == 40 and len(finger_muscle_names()) == 62
    gone_tendons = names(full, o.mjOBJ_TENDON, full.ntendon) - names(nof, o.mjOBJ_TENDON, nof.ntendon)
    finger_tendons = {full.tendon(full.actuator(a).trnid[0]).name for a in finger_muscle_names()}
    assert gone_tendons == finger_tendons and len(finger_tendons) == 62
    # Bodies stay (the fingers become rigid with the hand); equality constraints are the same ones.
    assert names(full, o.mjOBJ_BODY, full.nbody) == names(nof, o.mjOBJ_BODY, nof.nbody)
    assert names(full, o.mjOBJ_EQUALITY, full.neq) == names(nof, o.mjOBJ_EQUALITY, nof.neq)


def test_joint_couplings_hold_after_finger_removal() -> None:
    """The knee, patella, spine and shoulder-girdle couplings (joint equalities) are enforced in the edited model."""
    emb = get_embodiment("myofullbody-nofingers")
    m = emb.compile()
    d = mujoco.MjData(m)
    d.ctrl[:] = np.random.default_rng(1).uniform(0, 0.3, m.nu)
    for _ in range(100):
        mujoco.mj_step(m, d)
    assert np.all(np.isfinite(d.qpos))
    knee = m.joint("knee_angle_r").qposadr[0]
    assert abs(d.qpos[knee] - m.qpos0[knee]) > 1e-3, "the knee did not move, so the test would prove nothing"
    for i in range(m.neq):
        j1, j2 = m.eq_obj1id[i], m.eq_obj2id[i]
        q1 = d.qpos[m.jnt_qposadr[j1]] - m.qpos0[m.jnt_qposadr[j1]]
        x = d.qpos[m.jnt_qposadr[j2]] - m.qpos0[m.jnt_qposadr[j2]] if j2 >= 0 else 0.0
        poly = sum(c * x**k for k, c in enumerate(m.eq_data[i, :5]))
        assert abs(q1 - poly) < 5e-3, f"equality {m.eq(i).name} violated by {abs(q1 - poly):.2e}"


@pytest.mark.parametrize("name", sorted(FACTS))
def test_tracked_sites_sit_at_body_origins(name: str) -> None:
    emb = get_embodiment(name)
    expected = FULLBODY_SITES if name.startswith("myofullbody") else BIMANUAL_SITES
    assert emb.tracked_sites == tuple(expected)
    assert len(emb.tracked_sites) == (17 if name.startswith("myofullbody") else 7)
    m = emb.compile()
    d = mujoco.MjData(m)
    d.qpos[:] = m.qpos0
    mujoco.mj_forward(m, d)
    for site, body in expected.items():
        s = m.site(site)
        assert m.body(m.site_bodyid[s.id]).name == body
        np.testing.assert_allclose(d.site_xpos[s.id], d.xpos[m.body(body).id], atol=1e-12)
    assert set(emb.smpl_joint_map.values()) == set(emb.tracked_sites)


def test_fullbody_order_and_smpl_map() -> None:
    emb = get_embodiment("myofullbody-nofingers")
    assert emb.main_site == "mimic_pelvis"
    assert emb.tracked_sites[:3] == ("mimic_pelvis", "mimic_upper_body", "mimic_head")
    assert emb.smpl_joint_map["Spine3"] == "mimic_upper_body"
    assert emb.smpl_joint_map["L_Wrist"] == "mimic_hand_l"
    assert emb.smpl_joint_map["R_Foot"] == "mimic_toes_r"
    assert get_embodiment("bimanual").main_site == "mimic_upper_body"


def test_fullbody_feet_touch_the_floor_standing() -> None:
    """qpos0 is the standing pose: each side's foot touch sensors see the floor after a few steps."""
    emb = get_embodiment("myofullbody-nofingers")
    m = emb.compile()
    d = mujoco.MjData(m)
    for _ in range(30):
        mujoco.mj_step(m, d)
    touch = {s: float(d.sensor(s).data[0]) for s in emb.touch_sensors}
    assert touch["r_foot"] + touch["r_toes"] > 0 and touch["l_foot"] + touch["l_toes"] > 0, touch
    for side, bodies in emb.feet.items():
        assert side in ("left", "right")
        assert all(m.body(b).id > 0 for b in bodies)


def test_spec_is_fresh_each_call() -> None:
    emb = get_embodiment("bimanual-nofingers")
    a, b = emb.spec(), emb.spec()
    assert a is not b
    a.delete(a.actuators[0])
    assert b.compile().nu == 64 and emb.compile().nu == 64


def test_compiled_with_training_physics() -> None:
    m = get_embodiment("myofullbody").compile()
    assert m.opt.timestep == 0.002 and m.opt.iterations == 4 and m.opt.ls_iterations == 8
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_EULER
    assert m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    emb = get_embodiment("myofullbody")
    assert (emb.physics.nconmax, emb.physics.njmax) == (96, 768)
    assert (get_embodiment("bimanual").physics.nconmax, get_embodiment("bimanual").physics.njmax) == (10, 256)


def test_task_defaults_follow_the_facts_sheet() -> None:
    """The typed per-embodiment task defaults, by value: only deviations from the root type's sets (mm-sim)."""
    from mm_core.contracts import TaskDefaults

    for fingers in ("", "-nofingers"):
        full, bim = get_embodiment("myofullbody" + fingers).task, get_embodiment("bimanual" + fingers).task
        assert full == TaskDefaults(eval_terminations={"site_rel_error": 0.5}, initial_std=1.0)
        assert bim == TaskDefaults(terminations={"site_abs_error": 0.05}, initial_std=0.4)
    assert get_embodiment("tiny").task == TaskDefaults(
        terminations={"site_abs_error": 0.3}, eval_terminations={"site_abs_error": 0.2}, initial_std=0.5
    )
    assert all(not get_embodiment(n).extras for n in ("myofullbody", "bimanual-nofingers", "tiny"))


def test_finger_removal_remaps_keyframes() -> None:
    """The shipped XML has no keyframes; one added before the edit keeps exactly the entries of what remains."""
    import musclemimic_models

    from mm_models.myo import _remove_fingers

    spec = mujoco.MjSpec.from_file(str(musclemimic_models.get_xml_path("bimanual")))
    full = spec.compile()
    qpos = full.qpos0 + 1e-3 * np.arange(full.nq)
    spec.add_key(
        name="marked", qpos=qpos, qvel=np.arange(full.nv, dtype=float), ctrl=np.linspace(0, 1, full.nu)
    )
    _remove_fingers(spec, "bimanual")
    m = spec.compile()
    key = m.key("marked")
    kept_joints = [full.joint(m.joint(i).name).id for i in range(m.njnt)]
    np.testing.assert_array_equal(key.qpos, qpos[full.jnt_qposadr[kept_joints]])
    np.testing.assert_array_equal(key.qvel, full.jnt_dofadr[kept_joints].astype(float))
    kept_u = [full.actuator(m.actuator(i).name).id for i in range(m.nu)]
    np.testing.assert_array_equal(key.ctrl, np.linspace(0, 1, full.nu)[kept_u])
