"""The free-root task on myofullbody-nofingers by hand: root position, velocity and orientation terms, site
velocities in the pelvis frame, each termination, the published tracking errors, clip length checks and the
deterministic start. The clip is moved by (3, 4) m so the root offset applied at reset is part of every check."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from mm_core import get_embodiment, get_termination_term
from mm_core.registry import embodiments
from mm_sim import make_env
from mm_sim.motion import clip_from_qpos, sinusoid_clip

if "myofullbody-nofingers" not in embodiments.names():
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)

FRAME = 40  # the reference frame the state is compared with
TILT = 0.2  # rad: the root is turned by this about a fixed axis


@pytest.fixture(scope="module")
def body():
    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    base = sinusoid_clip(model, spec, seconds=1.0)
    q = base.qpos.copy()
    q[:, :2] += (3.0, 4.0)
    clip = clip_from_qpos(model, spec, q, base.fps, name="walk34")
    # A body rocking about x (up to 1 rad, 1 Hz), every joint swinging 0.3 rad: relative site velocities of m/s
    # and rad/s (kinematics only).
    rock = base.qpos.copy()
    times = np.arange(len(rock)) / base.fps
    rock[:, 7:] += 0.3 * np.sin(2 * np.pi * 1.5 * times)[:, None]
    for row, t in zip(rock, times, strict=True):
        mujoco.mju_mulQuat(row[3:7], _axis_quat((1, 0, 0), np.sin(2 * np.pi * t)), base.qpos[0, 3:7].copy())
    fast = clip_from_qpos(model, spec, rock, base.fps, name="fast")
    env = make_env(spec, [clip, base, fast], backend="mujoco", num_worlds=1)
    return spec, model, clip, env, fast


def _axis_quat(axis, angle: float) -> np.ndarray:
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    return np.concatenate(([np.cos(angle / 2)], np.sin(angle / 2) * axis))


def _set_state(env, qpos: np.ndarray, qvel: np.ndarray) -> None:
    env.sim.qpos[0] = torch.as_tensor(qpos)
    env.sim.qvel[0] = torch.as_tensor(qvel)
    env.sim.forward()
    env._features()


def _reference(clip, env) -> tuple[np.ndarray, np.ndarray]:
    """Reference qpos/qvel of FRAME as the env compares them: root xy moved by the reset offset."""
    r = clip.qpos[FRAME].astype(np.float64)
    r[:2] -= env.offset3[0, 0, :2].double().numpy()
    return r, clip.qvel[FRAME].astype(np.float64)


def _sites(model, spec, qpos, qvel):
    """Tracked sites by C MuJoCo: positions (S, 3), orientations (S, 3, 3), world-axis velocities at the site
    (linear (S, 3), angular (S, 3))."""
    d = mujoco.MjData(model)
    d.qpos[:], d.qvel[:] = qpos, qvel
    mujoco.mj_forward(model, d)
    ids = [model.site(n).id for n in spec.tracked_sites]
    vel = np.zeros((len(ids), 6))
    for j, s in enumerate(ids):
        mujoco.mj_objectVelocity(model, d, mujoco.mjtObj.mjOBJ_SITE, s, vel[j], 0)
    return d.site_xpos[ids].copy(), d.site_xmat[ids].reshape(-1, 3, 3).copy(), vel[:, 3:], vel[:, :3]


def _quat_mat(q: np.ndarray) -> np.ndarray:
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, q)
    return m.reshape(3, 3)


def _perturbed(clip, env, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The reference state of FRAME with the root moved, turned by TILT, joints and velocities off."""
    rng = np.random.default_rng(seed)
    q, v = _reference(clip, env)
    q[:3] += (0.05, -0.03, 0.02)
    mujoco.mju_mulQuat(q[3:7], _axis_quat((0.3, 0.5, 0.8), TILT), q[3:7].copy())
    q[7:] += rng.normal(0, 0.03, q.shape[0] - 7)
    v = v + rng.normal(0, 0.3, v.shape[0])
    return q, v


def test_reset_moves_root_to_origin_and_deterministic_start(body) -> None:
    spec, model, clip, env, _ = body
    env.reset(clips=["walk34"], frames=[FRAME])
    assert env.clip.tolist() == [0] and env.frame.tolist() == [FRAME]
    np.testing.assert_allclose(env.offset3[0, 0].numpy(), [*clip.qpos[FRAME, :2], 0], atol=1e-5)
    r, _ = _reference(clip, env)
    np.testing.assert_allclose(env.sim.qpos[0].numpy(), r, atol=1e-5)
    # The start is kept for auto-resets: a world that ends restarts at the same clip and frame.
    env.frame[:] = clip.num_frames - 2
    _, _, term, trunc, info = env.step(torch.zeros(1, model.nu))
    assert trunc.item() and info["frame"].item() == clip.num_frames - 1
    assert env.clip.tolist() == [0] and env.frame.tolist() == [FRAME]
    env.reset(clips=torch.tensor([1]))  # by index, frame 0
    assert env.clip.tolist() == [1] and env.frame.tolist() == [0]
    with pytest.raises(ValueError, match="no clip named 'nope'.*walk34"):
        env.reset(clips=["nope"])
    with pytest.raises(ValueError, match="frame 100 of clip 'walk34', which has 101 frames.*0..99"):
        env.reset(clips=[0], frames=[100])
    with pytest.raises(ValueError, match="2 clips for 1 worlds"):
        env.reset(clips=[0, 1])
    env.reset()  # random again
    assert env._start is None


def test_free_root_reward_terms_by_hand(body) -> None:
    spec, model, clip, env, _ = body
    env.reset(clips=[0], frames=[FRAME])
    q, v = _perturbed(clip, env)
    _set_state(env, q, v)
    env.actions.zero_()
    reward, failed, terms = env.score()

    r, rv = _reference(clip, env)
    w = {n: t.weight for n, t in env.terms["reward"].items()}
    k = {n: t.params["k"] for n, t in env.terms["reward"].items()}
    cur, ref = _sites(model, spec, q, v), _sites(model, spec, r, rv)
    rel = [x[0][1:] - x[0][:1] for x in (cur, ref)]
    rot = [x[1][:1].transpose(0, 2, 1) @ x[1][1:] for x in (cur, ref)]
    # Relative site velocities in the pelvis (main site) frame: R_main^T (v_site - v_main).
    lin = [(x[2][1:] - x[2][:1]) @ x[1][0] for x in (cur, ref)]
    ang = [(x[3][1:] - x[3][:1]) @ x[1][0] for x in (cur, ref)]
    root_vel = [np.concatenate((_quat_mat(a[3:7]).T @ b[:3], b[3:6])) for a, b in ((q, v), (r, rv))]
    non_quat = np.r_[0:3, 7 : model.nq]
    between = rot[0].transpose(0, 2, 1) @ rot[1]
    angle = np.arccos(np.clip((np.trace(between, axis1=-2, axis2=-1) - 1) / 2, -1, 1))
    hand = {
        # The reference's qpos distance: MSE of the non-quaternion elements + the root quaternion angle.
        "qpos": w["qpos"] * np.exp(-k["qpos"] * (np.mean((q - r)[non_quat] ** 2) + TILT)),
        "qvel": w["qvel"] * np.exp(-k["qvel"] * np.mean((v - rv) ** 2)),
        "root_pos": w["root_pos"] * np.exp(-k["root_pos"] * np.mean(np.array([0.05, -0.03, 0.02]) ** 2)),
        "root_vel": w["root_vel"] * np.exp(-k["root_vel"] * np.mean((root_vel[0] - root_vel[1]) ** 2)),
        "site_pos": w["site_pos"] * np.exp(-k["site_pos"] * np.mean((rel[0] - rel[1]) ** 2)),
        "site_rot": w["site_rot"] * np.exp(-k["site_rot"] * np.mean(np.square(angle)) / 3),
        "site_linvel": w["site_linvel"] * np.exp(-k["site_linvel"] * np.mean((lin[0] - lin[1]) ** 2)),
        "site_angvel": w["site_angvel"] * np.exp(-k["site_angvel"] * np.mean((ang[0] - ang[1]) ** 2)),
        "action_out_of_range": 0.0,
    }
    assert set(terms) == set(hand)
    for name, value in hand.items():
        assert terms[name].item() == pytest.approx(value, rel=5e-4, abs=1e-6), name
    assert reward.item() == pytest.approx(sum(hand.values()), rel=1e-4)
    # The velocity distances by themselves (k = 0.1 keeps these rewards near 1, so compare d = -log(term/w)/k).
    dists = {"site_linvel": np.mean((lin[0] - lin[1]) ** 2), "site_angvel": np.mean((ang[0] - ang[1]) ** 2)}
    for name, d in dists.items():
        assert -np.log(terms[name].item() / w[name]) / k[name] == pytest.approx(d, rel=2e-3), name

    # The published tracking errors, from the same state and reference.
    tr = env.tracking_errors()
    dist_rel, dist_abs = np.linalg.norm(rel[0] - rel[1], axis=-1), np.linalg.norm(cur[0] - ref[0], axis=-1)
    want = {
        "site_rel_m": dist_rel.mean(),
        "site_abs_m": dist_abs.mean(),
        "site_rel_sq_m2": (dist_rel**2).mean(),
        "site_abs_sq_m2": (dist_abs**2).mean(),
        "joint_rad": np.abs(q[7:] - r[7:]).mean(),
        "root_pos_m": np.linalg.norm([0.05, -0.03, 0.02]),
        "root_rot_rad": TILT,
    }
    assert set(tr) == set(want)
    for name, value in want.items():
        assert tr[name].item() == pytest.approx(value, rel=1e-3, abs=2e-6), name


def test_site_velocities_are_compared_in_the_pelvis_frame(body) -> None:
    """The whole body turned by 0.5 rad about the vertical, velocities turned with it: relative site velocities in
    the pelvis frame are the reference's (as in the reference task), in world axes they are not."""
    spec, model, _, env, fast = body
    env.reset(clips=["fast"], frames=[FRAME])
    r, rv = _reference(fast, env)
    q, v = r.copy(), rv.copy()
    turn = _axis_quat((0, 0, 1), 0.5)
    mujoco.mju_mulQuat(q[3:7], turn, r[3:7].copy())
    v[:3] = _quat_mat(turn) @ rv[:3]  # free joint: linear velocity in world axes, angular in the body frame
    _set_state(env, q, v)
    _, _, terms = env.score()
    cur, ref = _sites(model, spec, q, v), _sites(model, spec, r, rv)
    for name, c in (("site_linvel", 2), ("site_angvel", 3)):
        w, k = env.terms["reward"][name].weight, env.terms["reward"][name].params["k"]
        d_world = np.mean(((cur[c][1:] - cur[c][:1]) - (ref[c][1:] - ref[c][:1])) ** 2)
        d_env = -np.log(terms[name].item() / w) / k
        assert d_world > 0.01 and d_env < 1e-3 * d_world, (name, d_env, d_world)


def test_lookahead_root_deltas_come_from_the_reference(body) -> None:
    """The later lookahead frames' root position and velocity deltas are reference minus reference at the current
    frame (as in the reference task): moving or pushing the body leaves them as they are."""
    spec, model, clip, env, _ = body
    layout = env.observation_layout()
    start = sum(list(layout.values())[: list(layout).index("lookahead")])
    tail = slice(start + layout["lookahead"] - 4 * 9, start + layout["lookahead"])  # 4 later frames x 9
    env.reset(clips=[0], frames=[FRAME])
    r, rv = _reference(clip, env)
    obs = []
    for dq, dv in ((0.0, 0.0), (0.3, 0.5)):  # root moved 0.3 m and pushed by 0.5 m/s (no turn)
        q, v = r.copy(), rv.copy()
        q[:3] += dq
        v[:6] += dv
        _set_state(env, q, v)
        obs.append(env._observe()[0, tail].reshape(4, 9).double().numpy())
    np.testing.assert_allclose(obs[1], obs[0], atol=1e-6)
    yaw = np.arctan2(*_quat_mat(r[3:7])[[1, 0], 0])
    c, s = np.cos(yaw), np.sin(yaw)
    later = FRAME + 20  # 0.2 s ahead at 100 Hz
    dpos = clip.qpos[later, :3] - clip.qpos[FRAME, :3]
    dlin = clip.qvel[later, :3] - clip.qvel[FRAME, :3]
    heading = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])  # world -> heading frame
    np.testing.assert_allclose(obs[0][0, :3], heading @ dpos, atol=1e-5)
    np.testing.assert_allclose(obs[0][0, 3:6], heading @ dlin, atol=1e-4)
    np.testing.assert_allclose(obs[0][0, 6:], clip.qvel[later, 3:6] - clip.qvel[FRAME, 3:6], atol=1e-4)


@pytest.mark.parametrize("term", ["site_rel_error", "root_pos_error", "root_rot_error"])
def test_free_root_terminations_by_value(body, term) -> None:
    spec, model, clip, env, _ = body
    env.reset(clips=[0], frames=[FRAME])
    q, v = _perturbed(clip, env, seed=1)
    _set_state(env, q, v)
    r, rv = _reference(clip, env)
    cur, ref = _sites(model, spec, q, v), _sites(model, spec, r, rv)
    hand = {
        "site_rel_error": np.linalg.norm(
            (cur[0][1:] - cur[0][:1]) - (ref[0][1:] - ref[0][:1]), axis=-1
        ).mean(),
        "root_pos_error": np.linalg.norm(cur[0][0] - ref[0][0]),  # the pelvis site
        "root_rot_error": TILT,
    }[term]
    assert hand > 1e-3
    fn = get_termination_term(term).fn
    assert fn(env, threshold=0.99 * hand).item() and not fn(env, threshold=1.01 * hand).item()
    # The configured (training) thresholds 1 m / 1 m / 1 rad: a body moved or turned past them fails, alone.
    env.reset(clips=[0], frames=[FRAME])
    q, v = _reference(clip, env)
    for past, expect in ((1.02, True), (0.98, False)):
        p = q.copy()
        if term == "root_pos_error":
            p[:2] += past * np.array([0.6, 0.8])
        elif term == "root_rot_error":
            mujoco.mju_mulQuat(p[3:7], _axis_quat((0, 0, 1), past), q[3:7].copy())
        else:  # every non-main site 1.02 m off relative to the pelvis: only reachable by lifting the pelvis site
            continue
        _set_state(env, p, v)
        fails = {n: bool(f(env).item()) for n, f in env.termination_terms.items()}
        assert fails == {n: expect and n == term for n in fails}, (past, fails)
        assert bool(env.score()[1].item()) == expect


def test_short_clip_warns_and_stays_defined(body) -> None:
    """A 3-frame clip (MotionClip rejects fewer than 2): a warning, then episodes of 2 steps with finite errors."""
    spec, model, clip, _, _ = body
    short = clip_from_qpos(model, spec, clip.qpos[:3], clip.fps, name="three")
    with pytest.warns(UserWarning, match="'three' \\(3 frames\\).*81 frames"):
        env = make_env(spec, [short], backend="mujoco", num_worlds=2)
    # Defined: episodes of at most 2 steps, errors of the stepped states finite.
    env.reset(frames=0)
    for _ in range(2):
        _, _, _, trunc, info = env.step(torch.zeros(2, model.nu))
        assert all(torch.isfinite(t).all() for t in info["tracking"].values())
    assert trunc.all()
