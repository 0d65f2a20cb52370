"""Evaluation and the render recorder off the demo path: a free-root body, clips moved in xy or turned in yaw,
clips shorter than the task, both backends."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mujoco
import numpy as np
import pytest
import torch

pytest.importorskip("mm_sim")

from mm_core import get_embodiment  # noqa: E402
from mm_core.registry import embodiments  # noqa: E402
from mm_rl.config import PolicyConfig  # noqa: E402
from mm_rl.evaluate import rollout_first_episodes  # noqa: E402
from mm_rl.policy import ActorCritic  # noqa: E402
from mm_sim import make_env  # noqa: E402
from mm_sim.motion import clip_from_qpos, sinusoid_clip  # noqa: E402

if "myofullbody-nofingers" not in embodiments.names():
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)

ERRORS = ("site_error_rel_m", "site_error_abs_m", "site_rmse_rel_m", "site_rmse_abs_m", "joint_error_rad",
          "root_error_m", "root_rot_error_rad")  # fmt: skip


def _strict_json(text: str):
    def no_constant(c: str):
        raise ValueError(f"not strict JSON: {c}")

    return json.loads(text[text.index("{") :], parse_constant=no_constant)


def _small_policy(env) -> ActorCritic:
    torch.manual_seed(0)
    cfg = PolicyConfig(actor_width=16, actor_depth=1, critic_width=16, critic_depth=1)
    return ActorCritic(env.num_obs, env.num_actions, cfg, init_std=1.0)


def _moved(model, spec, clip, shift=(0.0, 0.0), yaw: float = 0.0, name: str = ""):
    """The clip turned by ``yaw`` about the vertical through the origin, then shifted by ``shift`` (m)."""
    q = clip.qpos.copy()
    c, s = math.cos(yaw), math.sin(yaw)
    q[:, :2] = q[:, :2] @ np.array([[c, s], [-s, c]]) + np.asarray(shift)
    turn = np.array([math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)])
    for row in q:
        mujoco.mju_mulQuat(row[3:7], turn, row[3:7].copy())
    return clip_from_qpos(model, spec, q, clip.fps, name=name)


@pytest.fixture(scope="module")
def fullbody():
    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=0.9, name="walk")  # 91 frames: no short-clip warning
    return spec, model, clip


def test_oracle_replay_of_the_reference_is_exact_moved_or_turned(fullbody) -> None:
    """Replaying the reference (the state set from the clip at every step instead of physics) through the real
    env and evaluation: full coverage, no termination, errors at float32 rounding, the same for the clip moved by
    (3, 4) m or turned by 1 rad."""
    spec, model, walk = fullbody
    q = walk.qpos.copy()  # every joint swinging too (kinematics only: no physics runs here)
    q[:, 7:] += 0.3 * np.sin(2 * np.pi * 1.5 * np.arange(len(q)) / walk.fps)[:, None]
    clip = clip_from_qpos(model, spec, q, walk.fps, name="swing")
    clips = [clip, _moved(model, spec, clip, (3.0, 4.0), name="shifted"), _moved(model, spec, clip, yaw=1.0)]
    env = make_env(spec, clips, backend="mujoco", num_worlds=3)
    lib, sim = env.motions, env.sim

    def replay() -> None:  # the oracle's "physics": jump to the reference frame the step leads to
        idx = lib.clip_start[env.clip] + (env.frame + 1).minimum(lib.clip_len[env.clip] - 1)
        q = lib.qpos[idx].double()
        q[:, :3] -= env.offset3[:, 0].double()
        sim.qpos.copy_(q)
        sim.qvel.copy_(lib.qvel[idx].double())
        sim.forward()

    sim.step = replay
    results = [r["metrics"] for r in rollout_first_episodes(_small_policy(env), env)]
    for name, m in zip(("clip", "shifted", "turned"), results, strict=True):
        assert m["frame_coverage"] == 1.0 and m["early_termination_rate"] == 0.0, (name, m)
        assert m["steps"] == clip.num_frames - 1, (name, m)
        for key in ERRORS:
            assert 0 <= m[key] < 2e-4, (name, key, m[key])
    for key in ERRORS:
        assert results[1][key] == pytest.approx(results[0][key], abs=2e-5), key
        assert results[2][key] == pytest.approx(results[0][key], abs=2e-5), key


@pytest.mark.slow  # mm train + mm eval on MyoFullBody: ~15 s alone, more on a busy 2-core runner
def test_mm_eval_json_free_root_shift_invariant_and_short_clip(fullbody, tmp_path: Path) -> None:
    """`mm eval --json` on a free-root run: the same errors for a clip and its copy moved by (3, 4) m; a 2-frame
    clip gives defined numbers (strict JSON, no NaN)."""
    from typer.testing import CliRunner

    from mm_core.cli import build_app

    spec, model, clip = fullbody
    a = clip.save(tmp_path / "walk.npz")
    b = _moved(model, spec, clip, (3.0, 4.0), name="walk_shifted").save(tmp_path / "walk_shifted.npz")
    c = clip_from_qpos(model, spec, clip.qpos[:2], clip.fps, name="short").save(tmp_path / "short.npz")
    app, run = build_app(), tmp_path / "run"
    small = ["--set", "ppo.num_steps=4", "--set", "ppo.num_minibatches=1", "--set", "policy.actor_width=16",
             "--set", "policy.actor_depth=1", "--set", "policy.critic_width=16", "--set", "policy.critic_depth=1"]  # fmt: skip
    train = ["train", "-e", "myofullbody-nofingers", "--motions", str(a), "--updates", "1", "--num-worlds", "2",
             "--backend", "mujoco", "--device", "cpu", "--run-dir", str(run), "--json", *small]  # fmt: skip
    res = CliRunner().invoke(app, train)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        app, ["eval", str(run), "--motions", str(a), "--motions", str(b), "--motions", str(c), "--json"]
    )
    assert res.exit_code == 0, res.output
    report = _strict_json(res.stdout)
    walk, shifted, short = (report["per_motion"][n] for n in ("walk", "walk_shifted", "short"))
    assert walk["steps"] > 5, walk  # the untrained policy tracks a few steps at least
    for key in (*ERRORS, "frame_coverage", "early_termination_rate", "steps"):
        assert shifted[key] == pytest.approx(walk[key], rel=1e-4, abs=1e-5), key
    assert walk["site_error_abs_m"] < 0.5, "absolute errors must not include the clip's starting xy"
    assert short["frames"] == 1 and short["steps"] == 1 and short["frame_coverage"] in (0.0, 1.0)
    for key in ERRORS:
        assert math.isfinite(short[key]) and math.isfinite(report["overall"][key]), key


@pytest.mark.parametrize("backend", ["mujoco", "warp"])
def test_recorded_frames_follow_the_moving_body(backend) -> None:
    """The render recorder copies each state: frames differ while the body moves (the C MuJoCo backend's qpos is
    a view of its buffer, so appending it without a copy records one frame over and over)."""
    spec = get_embodiment("tiny")
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=1.0)
    env = make_env(spec, [clip], backend=backend, num_worlds=1, device="cpu")
    policy = _small_policy(env)
    traj = rollout_first_episodes(policy, env, record=True)[0]["trajectory"]
    q = traj["qpos"]
    assert len(q) >= 10 and traj["frame"].tolist() == list(range(len(q)))
    np.testing.assert_allclose(q[0], clip.qpos[0], atol=1e-6)  # the start pose (fixed root: no xy offset)
    steps = np.abs(np.diff(q, axis=0)).max(axis=1)
    assert (steps > 1e-6).all(), f"recorded frames repeat: {steps}"
    # The recording is the simulated state: stepping a second env with the same actions gives the same frames.
    env2 = make_env(spec, [clip], backend=backend, num_worlds=1, device="cpu")
    obs = env2.reset(clips=[0])
    for k in range(1, 5):
        obs, *_ = env2.step(policy.act(obs))
        np.testing.assert_allclose(env2.sim.qpos[0].double().numpy(), q[k], atol=1e-9)
