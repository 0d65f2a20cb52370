"""The env state a resumed training run restores: a free-root env loaded from another's ``state_dict`` steps on
exactly as the original does (physics, episodes, root offsets, reset draws) on myofullbody-nofingers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

pytest.importorskip("mm_sim")

from mm_core import get_embodiment  # noqa: E402
from mm_core.registry import embodiments  # noqa: E402
from mm_sim import make_env  # noqa: E402
from mm_sim.motion import clip_from_qpos, sinusoid_clip  # noqa: E402
from mm_sim.tasks import TaskConfig  # noqa: E402

if "myofullbody-nofingers" not in embodiments.names():
    pytest.skip("needs the built-in embodiments: install mm-models", allow_module_level=True)


def test_env_state_dict_continues_a_free_root_env_exactly() -> None:
    spec = get_embodiment("myofullbody-nofingers")
    model = spec.compile()
    base = sinusoid_clip(model, spec, seconds=0.5)
    q = base.qpos.copy()
    q[:, :2] += (3.0, 4.0)  # the reset moves the root to the origin: the offset is episode state
    clip = clip_from_qpos(model, spec, q, base.fps, name="walk34")
    # Short episodes: resets (and their RNG draws) happen within the test.
    cfg = dataclasses.replace(TaskConfig.for_embodiment(spec), horizon=3)
    g = torch.Generator().manual_seed(0)
    actions = [torch.rand(2, model.nu, generator=g) * 2 - 1 for _ in range(8)]

    a = make_env(spec, [clip, base], backend="mujoco", num_worlds=2, config=cfg, seed=3)
    for act in actions[:2]:
        a.step(act)
    state = a.state_dict()
    b = make_env(spec, [clip, base], backend="mujoco", num_worlds=2, config=cfg, seed=99)  # nothing shared
    b.load_state_dict(state)
    assert torch.equal(b.offset3, a.offset3) and bool((a.offset3.abs() > 0).any())
    resets = 0
    for act in actions[2:]:
        oa, ra, ta, tra, ia = a.step(act)
        ob, rb, tb, trb, ib = b.step(act)
        assert torch.equal(oa, ob) and torch.equal(ra, rb)
        assert torch.equal(ta, tb) and torch.equal(tra, trb)
        assert torch.equal(ia["clip"], ib["clip"]) and torch.equal(ia["frame"], ib["frame"])
        resets += int((ta | tra).sum())
    assert resets >= 2  # new episodes drew the same clips and frames from the restored RNG
    assert torch.equal(a.sim.qpos, b.sim.qpos) and torch.equal(a.offset3, b.offset3)

    with pytest.raises(ValueError, match="lacks"):
        b.load_state_dict({k: v for k, v in state.items() if k != "generator"})
