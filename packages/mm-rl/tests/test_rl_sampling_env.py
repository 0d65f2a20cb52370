"""Failure-weighted sampling takes effect in the real environment (the reference's never did)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mm_sim")

from mm_rl.config import resolve  # noqa: E402
from mm_rl.trainer import Trainer  # noqa: E402


def _clips(tmp: Path) -> list[str]:
    from mm_core import get_embodiment
    from mm_sim.motion import clip_from_qpos

    spec = get_embodiment("tiny")
    model = spec.compile()
    t = np.arange(200)[:, None] / 100.0
    # Easy: legs hanging still in the default pose. Hard: every joint swinging over its whole range at 4 Hz.
    lo, hi = model.jnt_range[:, 0], model.jnt_range[:, 1]
    wild = (lo + hi) / 2 + 0.49 * (hi - lo) * np.sin(2 * np.pi * 4.0 * t + np.arange(model.nq))
    easy = clip_from_qpos(model, spec, np.tile(model.qpos0, (200, 1)), 100.0, name="still")
    hard = clip_from_qpos(model, spec, wild, 100.0, name="wild")
    return [str(easy.save(tmp / "still.npz")), str(hard.save(tmp / "wild.npz"))]


def _trainer(tmp: Path, motions: list[str], adaptive: bool) -> Trainer:
    cfg = resolve(
        "tiny",
        None,
        [
            "ppo.num_steps=32",
            "ppo.num_minibatches=2",
            "policy.init_std=0.1",
            f"sampling.adaptive={str(adaptive).lower()}",
        ],
        num_worlds=32,
        motions=motions,
        max_updates=3,
    )
    cfg.backend, cfg.device = "mujoco", "cpu"
    return Trainer(cfg, tmp / f"run_{adaptive}", progress=False)


def test_adaptive_sampling_shifts_episodes_to_failing_clips(tmp_path: Path) -> None:
    motions = _clips(tmp_path)
    results = {}
    for adaptive in (False, True):
        t = _trainer(tmp_path, motions, adaptive)
        for _ in range(3):
            t.step()
        rate = t.sampler.failure_rate()
        assert rate[1] > rate[0] + 0.2, f"the wild clip should fail more often than the still one: {rate}"
        # New episodes draw their clip through the env's own sampler: count them over a few full resets.
        counts = np.zeros(2)
        for _ in range(10):
            t.env.reset()
            counts += np.bincount(t.env.clip.cpu().numpy(), minlength=2)
        results[adaptive] = counts[1] / counts.sum()
        if adaptive:
            w = t.env.motions.weights.cpu().numpy()
            assert np.allclose(w, t.sampler.weights(), atol=1e-6) and w[1] > 0.6
    assert results[False] == pytest.approx(0.5, abs=0.1)
    assert results[True] > results[False] + 0.15, results
