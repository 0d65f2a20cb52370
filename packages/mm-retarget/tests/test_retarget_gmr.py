"""gmr-fit and mocap-body on the real CMU clips and the generated demo motions, checked against the reference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mujoco
import numpy as np
import pytest

from mm_core import MotionClip, get_embodiment, get_retargeter
from mm_core.registry import UnknownNameError
from mm_retarget.floor import lowest_point
from mm_retarget.metrics import THRESHOLDS, flags
from mm_retarget.model import load_model
from mm_retarget.readers import read_bvh
from mm_retarget.retarget import retarget

DATA = Path(__file__).parents[3] / ".." / "shared" / "data"
WALK, RUN = DATA / "mocap" / "35_01.bvh", DATA / "mocap" / "35_17.bvh"
needs_mocap = pytest.mark.skipif(
    not WALK.is_file(), reason=f"CMU mocap clips not found under {DATA / 'mocap'}"
)
FULL = "myofullbody-nofingers"

# The reference's GMR-Fit figures (facts sheet) that ours must meet or beat.
REF_JOINT_LIMIT_PCT, REF_PENETRATION_PCT, REF_RMSE_M, REF_TENDON_JUMP = 0.27, 0.24, 0.025, 0.032


def _embodiment(name: str):  # noqa: ANN202
    try:
        return get_embodiment(name)
    except UnknownNameError:
        pytest.skip(f"embodiment {name!r} is not registered (install mm-models)")


@pytest.fixture(scope="module")
def full_clips() -> dict[str, MotionClip]:
    if not WALK.is_file():
        pytest.skip(f"CMU mocap clips not found under {DATA / 'mocap'}")
    emb = _embodiment(FULL)
    return {p.stem: get_retargeter("gmr-fit").retarget(read_bvh(p), emb) for p in (WALK, RUN)}


@needs_mocap
@pytest.mark.parametrize("clip", ["35_01", "35_17"])
def test_gmr_fit_meets_reference_on_cmu(full_clips: dict[str, MotionClip], clip: str) -> None:
    """Whole clips (walk 358 source frames, run 167) onto MyoFullBody without fingers."""
    c = full_clips[clip]
    m = c.metadata["metrics"]
    assert c.fps == 100.0 and c.embodiment == FULL and c.metadata["method"] == "gmr-fit"
    assert c.num_frames == pytest.approx((c.metadata["source_frames"] - 1) / 120 * 100 + 1, abs=1)
    assert m["joint_limit_violation_pct"] <= REF_JOINT_LIMIT_PCT
    assert m["penetration_pct"] <= REF_PENETRATION_PCT
    assert m["site_rmse_m"] <= REF_RMSE_M
    assert m["tendon_jump_rate"] <= REF_TENDON_JUMP
    assert m["floating_height_m"] <= THRESHOLDS["floating_height_m"]
    assert m["seconds_per_frame"] > 0  # speed is a benchmark (BENCHMARKS.md), not a timed test
    assert flags(m) == []


@needs_mocap
def test_gmr_fit_clip_is_consistent(full_clips: dict[str, MotionClip], tmp_path: Path) -> None:
    c = MotionClip.load(full_clips["35_01"].save(tmp_path / "walk.npz"))
    mdl = load_model(get_embodiment(FULL))
    m, d = mdl.model, mujoco.MjData(mdl.model)
    assert c.qpos.shape[1] == m.nq and c.qvel.shape[1] == m.nv and len(c.joint_names) == m.njnt
    # Site poses are forward kinematics of qpos.
    for f in (0, c.num_frames // 2, c.num_frames - 1):
        d.qpos[:] = c.qpos[f]
        mujoco.mj_kinematics(m, d)
        np.testing.assert_allclose(c.site_pos[f], d.site_xpos[mdl.site_ids], atol=1e-9)
        assert lowest_point(m, d, mdl.collision_geoms) > -1e-3  # on, not in, the floor
    # Root linear velocity is the finite difference of the root position; the walk goes forward at ~1.3 m/s.
    v = np.gradient(c.qpos[:, :3], 1 / c.fps, axis=0)
    np.testing.assert_allclose(c.qvel[1:-1, :3], v[1:-1], atol=1e-6)
    speed = np.linalg.norm(c.qpos[-1, :2] - c.qpos[0, :2]) / c.duration
    assert 0.9 < speed < 1.6
    # Heading: the model walks towards its own forward (-y for MyoFullBody: toes point to -y in the model).
    fwd = (
        mdl.ref_site_pos[c.site_names.index("mimic_toes_l")]
        - mdl.ref_site_pos[c.site_names.index("mimic_ankle_l")]
    )
    travel = c.qpos[-1, :2] - c.qpos[0, :2]
    assert np.dot(travel, fwd[:2]) / (np.linalg.norm(travel) * np.linalg.norm(fwd[:2])) > 0.9
    # Every frame has a foot near the floor while walking (no floating).
    lows = []
    for q in c.qpos[::10]:
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        lows.append(lowest_point(m, d, mdl.collision_geoms))
    assert max(lows) < 0.03


@needs_mocap
def test_mocap_body_baseline_is_worse_where_constraints_matter() -> None:
    """The baseline has neither limits nor couplings: it tracks as well but breaks the model's joints."""
    emb = _embodiment(FULL)
    s = read_bvh(WALK)
    s = replace(s, positions=s.positions[:120], rotations=s.rotations[:120])  # first second of the walk
    base = get_retargeter("mocap-body").retarget(s, emb).metadata["metrics"]
    gmr = retarget(s, emb, method="gmr-fit").metadata["metrics"]
    assert base["joint_limit_violation_pct"] > 10 * max(gmr["joint_limit_violation_pct"], 0.1)
    assert gmr["joint_limit_violation_pct"] == 0.0
    assert base["coupling_residual_max"] > 10 * gmr["coupling_residual_max"]
    assert base["tendon_jump_rate"] > gmr["tendon_jump_rate"]
    assert base["site_rmse_m"] < 0.05


@needs_mocap
def test_fixed_root_bimanual_tracks_arms_relative_to_thorax() -> None:
    emb = _embodiment("bimanual-nofingers")
    s = read_bvh(RUN)
    c = retarget(s, emb)
    m = c.metadata["metrics"]
    assert c.metadata["fit"]["relative_to"] == "Spine3"
    assert m["joint_limit_violation_pct"] <= REF_JOINT_LIMIT_PCT and m["site_rmse_m"] <= REF_RMSE_M
    assert "penetration_pct" not in m  # fixed root: no floor metrics


def test_demo_motions_retarget_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mm_retarget.demo import GENERATOR_VERSION, MOTIONS, cache_dir, demo_clip

    monkeypatch.setenv("MM_CACHE_DIR", str(tmp_path))  # generate and retarget afresh, not from a user's cache
    assert cache_dir() == tmp_path / "demo"

    for emb in ("tiny", FULL):
        _embodiment(emb)
        for name in MOTIONS:
            c = demo_clip(emb, name)
            m = c.metadata["metrics"]
            assert flags(m) == [], (emb, name, m)
            assert m["joint_limit_violation_pct"] == 0.0
            assert m["site_rmse_m"] < (0.06 if emb == "tiny" else REF_RMSE_M), (emb, name, m)
            assert c.duration > 2.5
    # The cache returns the stored clip without recomputing.
    assert (tmp_path / "demo" / f"walk_v{GENERATOR_VERSION}.npz").is_file()
    assert demo_clip("tiny").metadata["seconds"] == demo_clip("tiny").metadata["seconds"]


def test_bad_requests_fail_clearly() -> None:
    from mm_retarget.demo import demo_motion_path
    from mm_retarget.readers import read_amass

    s = read_amass(demo_motion_path("walk"))
    with pytest.raises(ValueError, match="unknown retargeting method 'ik'"):
        retarget(s, "tiny", method="ik")
    with pytest.raises(ValueError, match="unknown retarget option"):
        retarget(s, "tiny", itterations=3)
    with pytest.raises(UnknownNameError, match="valid names"):
        retarget(s, "no-such-body")
    few = replace(s, joint_names=tuple(f"x{i}" for i in range(24)))
    with pytest.raises(ValueError, match="check the reader's joint map"):
        retarget(few, "tiny")


ARM_XML = """<mujoco><worldbody><body name="thorax" pos="0 0 1.4">
  <site name="chest"/>
  <body name="upper" pos="0.18 0 0"><joint name="shoulder" type="ball"/><site name="shoulder"/>
    <geom type="capsule" fromto="0 0 0 0 0 -0.3" size="0.04"/>
    <body name="fore" pos="0 0 -0.3"><joint name="elbow" axis="1 0 0" range="0 2.6"/><site name="elbow"/>
      <geom type="capsule" fromto="0 0 0 0 0 -0.27" size="0.03"/><site name="hand" pos="0 0 -0.27"/>
    </body></body></body></worldbody></mujoco>"""


def test_plugin_style_embodiment_with_a_ball_joint() -> None:
    """Any embodiment that declares a joint map retargets: here a one-armed model defined inline, facing +y
    (declared with ``forward``, so its right is +x, since it has no left/right pair), with a ball shoulder."""
    from mm_core import EmbodimentSpec
    from mm_retarget.demo import demo_motion_path
    from mm_retarget.readers import read_amass

    def build():  # noqa: ANN202
        return mujoco.MjSpec.from_string(ARM_XML)

    arm = EmbodimentSpec(
        name="test-arm",
        root="fixed",
        spec_builder=build,
        tracked_sites=("chest", "shoulder", "elbow", "hand"),
        smpl_joint_map={"Spine3": "chest", "R_Shoulder": "shoulder", "R_Elbow": "elbow", "R_Wrist": "hand"},
        forward="+y",
    )
    c = retarget(read_amass(demo_motion_path("walk")), arm)
    m = c.metadata["metrics"]
    assert m["joint_limit_violation_pct"] == 0.0 and m["site_rmse_m"] < REF_RMSE_M
    q = c.qpos[:, :4]
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-9)  # ball quaternions stay unit
    # The arm swings forward and back with the gait: the hand moves along +y (the declared forward) both ways.
    rel = c.site_pos[:, 3, 1] - c.site_pos[:, 1, 1]
    assert rel.max() > 0.1 and rel.min() < -0.05


def test_one_sided_plugin_embodiment_if_installed() -> None:
    emb = _embodiment("hopper")
    from mm_retarget.demo import demo_motion_path
    from mm_retarget.readers import read_amass

    c = retarget(read_amass(demo_motion_path("walk")), emb)
    assert c.metadata["metrics"]["joint_limit_violation_pct"] <= REF_JOINT_LIMIT_PCT


@needs_mocap
def test_metrics_flag_a_broken_clip(full_clips: dict[str, MotionClip]) -> None:
    """The metrics are measured, not assumed: sink the walk 2 cm into the floor and bend a knee past its limit."""
    from mm_retarget.metrics import clip_metrics

    c = full_clips["35_01"]
    m = load_model(get_embodiment(FULL)).model
    knee = m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "knee_angle_r")]
    q = c.qpos.copy()
    q[:, 2] -= 0.02
    q[::2, knee] = m.jnt_range[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "knee_angle_r"), 1] + 0.1
    bad = MotionClip(**{**c.__dict__, "qpos": q})
    got = clip_metrics(bad)
    assert got["penetration_pct"] > 50 and got["penetration_max_m"] > 0.015
    assert got["joint_limit_violation_pct"] == pytest.approx(50, abs=1)
    assert got["tendon_jump_rate"] > 0.5  # the knee flips every frame
    reasons = " ".join(flags(got))
    assert (
        "joint_limit_violation_pct" in reasons and "penetration_max_m" in reasons and "tendon_jump" in reasons
    )


def test_output_rate_defaults_to_the_embodiments_control_rate() -> None:
    """A clip comes out at its embodiment's control rate (timestep x substeps), which the task requires; an
    explicit ``out_fps`` still wins (and that clip is then refused by the task at another rate)."""
    from mm_retarget.demo import demo_motion_path
    from mm_retarget.readers import read_amass

    tiny = _embodiment("tiny")
    s = read_amass(demo_motion_path("walk"))
    n = int(s.fps * 1.2) + 1  # 1.2 s of the walk
    s = replace(s, positions=s.positions[:n], rotations=s.rotations[:n])
    slow = replace(tiny, physics=replace(tiny.physics, substeps=8))  # 0.002 s x 8: 62.5 Hz
    for emb, out_fps, want in ((slow, None, 62.5), (tiny, None, 100.0), (slow, 50.0, 50.0)):
        c = retarget(s, emb, **({} if out_fps is None else {"out_fps": out_fps}))
        assert c.fps == want and c.metadata["options"]["out_fps"] == want
        # Frames every 1 / want s over the solved span (30 Hz solve: 1.2 s is solved to its last 1/30 s).
        assert c.qpos.shape[0] == int(np.floor(1.2 * want + 1e-6)) + 1, (want, c.qpos.shape)
    with pytest.raises(ValueError, match="out_fps=0.*62.5 Hz"):
        retarget(s, slow, out_fps=0)
    make_env = pytest.importorskip("mm_sim").make_env  # the task that requires the control rate
    env = make_env(slow, [retarget(s, slow)], backend="mujoco", num_worlds=1)
    assert env.motions.num_clips == 1
    with pytest.raises(ValueError, match="fps is 50 but the task runs at 62.5 Hz"):
        make_env(slow, [c], backend="mujoco", num_worlds=1)
