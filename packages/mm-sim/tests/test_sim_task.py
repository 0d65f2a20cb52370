"""The imitation task: reference-state init, reward terms by hand, replay/perturbation, resets, NaN, parity."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from mm_core import get_embodiment
from mm_core.registry import embodiments
from mm_sim import make_env
from mm_sim.motion import clip_from_qpos, sinusoid_clip
from mm_sim.tasks.config import TaskConfig, TermCfg

if "tiny" not in embodiments.names():  # the built-in models come from mm-models (a dev dependency)
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)


@pytest.fixture(scope="module")
def tiny():
    spec = get_embodiment("tiny")
    model = spec.compile()
    clips = [sinusoid_clip(model, spec, seconds=1.0, seed=s, name=f"s{s}") for s in (0, 1)]
    return spec, model, clips


@pytest.fixture(scope="module")
def fullbody():
    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    return spec, model, sinusoid_clip(model, spec, seconds=1.0)


def _place_at_reference(env, frame: int, noise: float = 0.0, seed: int = 0) -> None:
    """Put every world exactly in the state of reference ``frame`` (plus joint noise) and compute features."""
    lib = env.motions
    env.offset3.zero_()
    env.frame[:] = frame
    idx = lib.clip_start[env.clip] + env.frame
    q = lib.qpos[idx].double()
    start = 7 if env.free_root else 0
    g = torch.Generator().manual_seed(seed)
    q[:, start:] += noise * torch.randn(q[:, start:].shape, generator=g, dtype=torch.float64)
    env.sim.qpos.copy_(q)
    env.sim.qvel.copy_(lib.qvel[idx])
    env.sim.forward()
    env._features()


# ------------------------------------------------------------------------------------------------------ RSI
@pytest.mark.parametrize("which", ["tiny", "fullbody"])
def test_rsi_puts_model_exactly_at_reference(which, request) -> None:
    spec, _, clips = request.getfixturevalue(which)
    clips = clips if isinstance(clips, list) else [clips]
    env = make_env(spec, clips, backend="mujoco", num_worlds=3, seed=1)
    lib, sim = env.motions, env.sim
    idx = lib.clip_start[env.clip] + env.frame
    want = lib.qpos[idx].double()
    if env.free_root:
        assert torch.all(sim.qpos[:, :2] == 0), "root xy must be moved to the origin"
        np.testing.assert_allclose(env.offset3[:, 0, :2].numpy(), want[:, :2].numpy(), atol=1e-6)
        want[:, :2] = 0
    np.testing.assert_allclose(sim.qpos.numpy(), want.numpy(), atol=1e-6)  # float32 library
    np.testing.assert_allclose(sim.qvel.numpy(), lib.qvel[idx].double().numpy(), atol=1e-5)
    assert torch.all(sim.act == 0) and torch.all(sim.ctrl == 0)
    sites = sim.site_xpos[:, env.site_id].float()
    np.testing.assert_allclose(sites.numpy(), (lib.site_pos[idx] - env.offset3).numpy(), atol=1e-5)


# --------------------------------------------------------------------------------------------- reward terms
def _site_state(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, sites: list[int]):
    d = mujoco.MjData(model)
    d.qpos[:], d.qvel[:] = qpos, qvel
    mujoco.mj_forward(model, d)
    pos = d.site_xpos[sites].copy()
    mat = d.site_xmat[sites].reshape(-1, 3, 3).copy()
    vel = np.zeros((len(sites), 6))
    for j, s in enumerate(sites):
        mujoco.mj_objectVelocity(model, d, mujoco.mjtObj.mjOBJ_SITE, s, vel[j], 0)
    return pos, mat, vel[:, 3:], vel[:, :3]


def _angle(r: np.ndarray) -> np.ndarray:
    return np.arccos(np.clip((np.trace(r, axis1=-2, axis2=-1) - 1) / 2, -1, 1))


def test_reward_terms_match_hand_computation(tiny) -> None:
    spec, model, clips = tiny
    env = make_env(spec, clips, backend="mujoco", num_worlds=1)
    _place_at_reference(env, frame=30, noise=0.05)
    env.sim.qvel.add_(0.3)  # velocities off the reference too
    env.sim.forward()
    env._features()
    env.actions = torch.tensor([[1.5, -2.0] + [0.5] * (model.nu - 2)])
    reward, failed, terms = env.score()

    sites = [model.site(n).id for n in spec.tracked_sites]
    q, v = env.sim.qpos[0].numpy(), env.sim.qvel[0].numpy()
    c, f = int(env.clip[0]), int(env.frame[0])
    qr, vr = clips[c].qpos[f], clips[c].qvel[f]
    cur, ref = _site_state(model, q, v, sites), _site_state(model, qr, vr, sites)
    rel = [x[1:] - x[:1] for x in (cur[0], ref[0])]
    rot = [x[:1].transpose(0, 2, 1) @ x[1:] for x in (cur[1], ref[1])]
    lin = [x[2][1:] - x[2][:1] for x in (cur, ref)]
    ang = [x[3][1:] - x[3][:1] for x in (cur, ref)]
    w = {n: t.weight for n, t in env.terms["reward"].items()}
    k = {n: t.params["k"] for n, t in env.terms["reward"].items()}
    hand = {
        "qpos": w["qpos"] * np.exp(-k["qpos"] * np.mean((q - qr) ** 2)),
        "qvel": w["qvel"] * np.exp(-k["qvel"] * np.mean((v - vr) ** 2)),
        "site_pos": w["site_pos"] * np.exp(-k["site_pos"] * np.mean((rel[0] - rel[1]) ** 2)),
        "site_rot": w["site_rot"]
        * np.exp(-k["site_rot"] * np.mean(_angle(rot[0].transpose(0, 2, 1) @ rot[1]) ** 2) / 3),
        "site_linvel": w["site_linvel"] * np.exp(-k["site_linvel"] * np.mean((lin[0] - lin[1]) ** 2)),
        "site_angvel": w["site_angvel"] * np.exp(-k["site_angvel"] * np.mean((ang[0] - ang[1]) ** 2)),
        "action_out_of_range": -0.01 * (0.5**2 + 1.0**2) / model.nu,
    }
    assert set(terms) == set(hand), "tiny (fixed root) has no root terms"
    for name, value in hand.items():
        assert terms[name].item() == pytest.approx(value, rel=2e-4, abs=1e-6), name
    assert reward.item() == pytest.approx(sum(hand.values()), rel=1e-4)
    assert not failed.item()


def test_penalties_floor_and_total_floor(tiny) -> None:
    spec, model, clips = tiny
    cfg = TaskConfig.for_embodiment(spec, rewards={"site_pos": TermCfg(weight=0.5, params={"k": 100.0})})
    env = make_env(spec, clips, backend="mujoco", num_worlds=1, config=cfg)
    _place_at_reference(env, frame=10, noise=1.0)  # far off: site_pos term ~0
    env.actions = torch.full((1, model.nu), 1e3)
    reward, failed, terms = env.score()
    assert terms["action_out_of_range"].item() < -1  # the raw penalty
    assert reward.item() == 0.0, "penalties are floored at -1 and the total at 0"
    env.actions.zero_()
    _place_at_reference(env, frame=10)
    assert env.score()[0].item() == pytest.approx(0.5, rel=1e-4)
    assert failed.item(), "1 rad of joint noise must exceed tiny's site-error threshold"


@pytest.mark.parametrize("which", ["tiny", "fullbody"])
def test_replayed_reference_scores_near_max_and_falls_with_perturbation(which, request) -> None:
    spec, _, clips = request.getfixturevalue(which)
    clips = clips if isinstance(clips, list) else [clips]
    env = make_env(spec, clips, backend="mujoco", num_worlds=2)
    best = sum(t.weight for t in env.terms["reward"].values())
    means = []
    for noise in (0.0, 0.02, 0.05, 0.1, 0.2):
        rewards = []
        for f in range(5, 90, 7):
            _place_at_reference(env, f, noise=noise, seed=f)
            r, failed, _ = env.score()
            rewards.append(r)
            if noise == 0:
                assert not failed.any()
        means.append(torch.cat(rewards).mean().item())
    assert means[0] >= 0.999 * best, f"exact replay scores {means[0]:.4f} of max {best}"
    assert all(a > b for a, b in zip(means, means[1:], strict=False)), f"reward must fall with noise: {means}"


# ------------------------------------------------------------------------------------------ episode logic
def test_auto_reset_touches_only_done_worlds(tiny) -> None:
    spec, model, clips = tiny
    env = make_env(spec, clips, backend="mujoco", num_worlds=3, seed=3)
    last = env.motions.clip_len[env.clip[0]] - 1
    env.frame[0] = last - 1  # world 0 reaches the end of its motion this step
    env.frame[1:] = 2
    before = env.sim.qpos[1:].clone()
    obs, reward, term, trunc, info = env.step(torch.zeros(3, model.nu))
    assert trunc.tolist() == [True, False, False] and not term.any()
    assert info["frame"][0] == last and info["episode_length"].tolist() == [1, 1, 1]
    assert env.episode_length.tolist() == [0, 1, 1]
    assert torch.equal(info["final_obs"][1:], obs[1:])
    assert not torch.equal(info["final_obs"][0], obs[0])
    assert not torch.equal(env.sim.qpos[1:], before), "worlds 1, 2 kept simulating"
    assert set(info["reward_terms"]) == set(env.config.rewards) | set(env.config.penalties)


def test_time_limit_truncates_not_terminates(tiny) -> None:
    spec, model, clips = tiny
    env = make_env(
        spec, clips, backend="mujoco", num_worlds=2, config=TaskConfig.for_embodiment(spec, horizon=2)
    )
    env.frame[:] = 0
    for _ in (1, 2):
        _, _, term, trunc, info = env.step(torch.zeros(2, model.nu))
    assert trunc.all() and not term.any() and info["episode_length"].tolist() == [2, 2]


@pytest.mark.parametrize("backend", ["mujoco", "warp"])
def test_nan_world_is_reset_and_counted(tiny, backend) -> None:
    spec, model, clips = tiny
    env = make_env(spec, clips, backend=backend, num_worlds=2, device="cpu")
    env.frame[:] = 0
    env.sim.qvel[0, :] = float("nan")
    obs, reward, term, trunc, info = env.step(torch.zeros(2, model.nu))
    assert term.tolist() == [True, False] and not trunc.any()
    assert info["nan_resets"] == 1 and env.nan_resets == 1
    assert (
        torch.isfinite(obs).all() and torch.isfinite(info["final_obs"]).all() and torch.isfinite(reward).all()
    )
    assert reward[0] == 0 and env.episode_length.tolist() == [0, 1]
    assert torch.isfinite(env.sim.qpos).all()
    _, _, term, _, info = env.step(torch.zeros(2, model.nu))
    assert not term.any() and info["nan_resets"] == 1


def test_actions_map_to_full_ctrl_range(tiny) -> None:
    spec, model, clips = tiny
    env = make_env(spec, clips, backend="mujoco", num_worlds=1)
    a = torch.linspace(-1.5, 1.5, model.nu).unsqueeze(0)
    env.step(a)
    np.testing.assert_allclose(env.sim.ctrl[0].numpy(), ((a.clamp(-1, 1) + 1) / 2)[0].numpy(), atol=1e-7)


def test_task_parity_between_backends(tiny) -> None:
    spec, model, clips = tiny
    envs = [make_env(spec, clips, backend=b, num_worlds=3, device="cpu", seed=5) for b in ("mujoco", "warp")]
    assert torch.equal(envs[0].clip, envs[1].clip) and torch.equal(envs[0].frame, envs[1].frame)
    g = torch.Generator().manual_seed(0)
    for _ in range(8):
        a = torch.rand(3, model.nu, generator=g) * 2 - 1
        (oc, rc, tc, uc, ic), (ow, rw, tw, uw, iw) = (e.step(a) for e in envs)
        scale = oc.abs().clamp_min(1.0)
        assert ((oc - ow).abs() / scale).max() < 2e-3, "observations differ"
        np.testing.assert_allclose(rc.numpy(), rw.numpy(), atol=2e-3)
        assert torch.equal(tc, tw) and torch.equal(uc, uw)


def test_motion_weights_steer_sampling(tiny) -> None:
    spec, model, clips = tiny
    env = make_env(spec, clips, backend="mujoco", num_worlds=8)
    env.motions.set_weights([0.0, 1.0])
    env.reset()
    assert env.clip.tolist() == [1] * 8 and env.motions.clip_names == ["s0", "s1"]
    with pytest.raises(ValueError, match="2 clips"):
        env.motions.set_weights([1.0])
    with pytest.raises(ValueError, match=">= 0"):
        env.motions.set_weights([-1.0, 1.0])


def test_bad_motions_are_rejected_with_names(tiny) -> None:
    spec, model, clips = tiny
    slow = clip_from_qpos(model, spec, clips[0].qpos, fps=30.0, name="slowclip")
    with pytest.raises(ValueError, match="slowclip.*resample"):
        make_env(spec, [slow], backend="mujoco", num_worlds=1)
    other = get_embodiment("bimanual-nofingers")
    arm = sinusoid_clip(other.compile(), other, seconds=0.2, name="armclip")
    with pytest.raises(ValueError, match="armclip.*bimanual-nofingers"):
        make_env(spec, [arm], backend="mujoco", num_worlds=1)
    with pytest.raises(ValueError, match="actions must be"):
        make_env(spec, clips, backend="mujoco", num_worlds=2).step(torch.zeros(1, model.nu))


# ------------------------------------------------------------------------------------- full-body layout
def test_fullbody_observation_layout_matches_reference(fullbody) -> None:
    spec, model, clip = fullbody
    env = make_env(spec, [clip], backend="mujoco", num_worlds=1)
    layout = env.observation_layout()
    assert env.num_obs == 2418, layout  # the facts sheet's MyoFullBody (fingers off) size
    assert layout["muscles"] == 354 * 5 and layout["sites"] == 16 * 12 and layout["touch"] == 4
    assert layout["lookahead"] == 5 * 16 * 3 + 4 * 9
    assert set(env.config.rewards) == {"qpos", "qvel", "root_pos", "root_vel", "site_pos", "site_rot",
                                       "site_angvel", "site_linvel"}  # fmt: skip
    assert set(env.config.terminations) == {"site_rel_error", "root_pos_error", "root_rot_error"}


def _yawed(model, spec, clip, yaw: float):
    q = clip.qpos.copy()
    c, s = np.cos(yaw), np.sin(yaw)
    q[:, :2] = q[:, :2] @ np.array([[c, s], [-s, c]])
    for row in q:
        mujoco.mju_mulQuat(row[3:7], np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]), row[3:7].copy())
    return clip_from_qpos(model, spec, q, clip.fps, name="yawed")


@pytest.mark.parametrize("invariant", [True, False])
def test_heading_invariant_observation(fullbody, invariant) -> None:
    spec, model, clip = fullbody
    cfg = TaskConfig.for_embodiment(spec, heading_invariant=invariant)
    obs = [
        make_env(spec, [c], backend="mujoco", num_worlds=2, config=cfg, seed=2).reset()
        for c in (clip, _yawed(model, spec, clip, 1.0))
    ]
    diff = (obs[0] - obs[1]).abs().max().item()
    if invariant:
        assert diff < 1e-3, f"heading-invariant observations differ by {diff}"
    else:
        assert diff > 0.1, "world-axis observations must see the turn"


def test_clip_from_qpos_roundtrip(tiny, tmp_path) -> None:
    spec, model, clips = tiny
    clip = clips[0]
    d = mujoco.MjData(model)
    d.qpos[:] = clip.qpos[7]
    mujoco.mj_kinematics(model, d)
    np.testing.assert_allclose(clip.site_pos[7], d.site_xpos[[model.site(n).id for n in spec.tracked_sites]])
    # hinges; the MotionClip.qvel convention: central differences
    np.testing.assert_allclose(clip.qvel[7], (clip.qpos[8] - clip.qpos[6]) * clip.fps / 2, atol=1e-9)
    back = type(clip).load(clip.save(tmp_path / "c.npz"))
    np.testing.assert_array_equal(back.qpos, clip.qpos)
    assert back.embodiment == "tiny" and back.site_names == spec.tracked_sites


def test_rotation_products_match_matmul() -> None:
    """The fused 3x3 products of the task maths (rotations.mat_tmul, vec_mat) equal torch's matmul, broadcast as
    the task uses them (main site against the other sites)."""
    from mm_sim.rotations import mat_tmul, vec_mat

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 1, 3, 3, generator=g), torch.randn(5, 4, 3, 3, generator=g)
    v, m = torch.randn(5, 4, 3, generator=g), torch.randn(5, 3, 3, generator=g)
    torch.testing.assert_close(mat_tmul(a, b), a.transpose(-1, -2) @ b)
    torch.testing.assert_close(mat_tmul(b, a), b.transpose(-1, -2) @ a)
    torch.testing.assert_close(vec_mat(v, m.unsqueeze(1)), v @ m)
    torch.testing.assert_close(vec_mat(v[:, 0], m), (v[:, 0].unsqueeze(1) @ m).squeeze(1))


@pytest.mark.parametrize("which", ["tiny", "fullbody"])
def test_task_state_has_the_documented_shapes(which, request) -> None:
    """``env.cur`` / ``env.ref`` are TaskStates with the world-first shapes TaskState documents; root fields only
    for free roots; None between steps."""
    import dataclasses

    from mm_sim.tasks import TaskState

    spec, model, clips = request.getfixturevalue(which)
    env = make_env(spec, clips if isinstance(clips, list) else [clips], backend="mujoco", num_worlds=2)
    assert env.cur is None and env.ref is None
    env._features()
    n, s, free = 2, len(spec.tracked_sites), spec.root == "free"
    shapes = {
        "qpos": (n, model.nq), "qvel": (n, model.nv), "site_pos": (n, s, 3), "site_mat": (n, s, 3, 3),
        "rel_pos": (n, s - 1, 3), "rel_mat": (n, s - 1, 3, 3), "rel_linvel": (n, s - 1, 3),
        "rel_angvel": (n, s - 1, 3), "act": (n, model.na), "root_pos": (n, 3), "root_quat": (n, 4),
        "root_vel_local": (n, 6), "yaw": (n,),
    }  # fmt: skip
    for side, state in (("cur", env.cur), ("ref", env.ref)):
        assert isinstance(state, TaskState)
        for f in dataclasses.fields(TaskState):
            value = getattr(state, f.name)
            root = f.name.startswith("root_") or f.name in ("yaw", "heading")
            if (root and not free) or (side == "ref" and f.name in ("act", "yaw", "heading")):
                assert value is None, (side, f.name)
            elif f.name == "heading":
                assert [tuple(x.shape) for x in value] == [(n,), (n,)]
            else:
                assert tuple(value.shape) == shapes[f.name] and value.dtype == torch.float32, (side, f.name)
    env.step(torch.zeros(n, env.num_actions))
    assert env.cur is None and env.ref is None
