"""Training on CUDA with the MuJoCo Warp backend (skipped without a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("mm_sim")

from mm_rl.checkpoint import load_policy  # noqa: E402
from mm_rl.config import resolve  # noqa: E402
from mm_rl.train import Trainer  # noqa: E402


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_train_on_cuda_with_warp(tmp_path: Path) -> None:
    cfg = resolve("tiny", None, ["ppo.num_steps=16", "ppo.num_minibatches=4"], num_worlds=256, max_updates=3)
    cfg.backend, cfg.device = "warp", "cuda"
    trainer = Trainer(cfg, tmp_path / "run", progress=False)
    out = trainer.run()
    assert out["update"] == 3 and out["last"]["skipped_updates"] == 0
    assert trainer.env.device.type == "cuda" and next(trainer.policy.parameters()).is_cuda
    policy, meta = load_policy(tmp_path / "run", "cuda")
    assert policy.act(torch.zeros(2, policy.num_obs, device="cuda")).is_cuda and meta["step"] == 3
