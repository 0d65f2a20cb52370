"""Training on CUDA with the MuJoCo Warp backend (skipped without a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("mm_sim")

from mm_rl.checkpoint import load_policy  # noqa: E402
from mm_rl.config import resolve  # noqa: E402
from mm_rl.trainer import Trainer  # noqa: E402


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


# Replayed CUDA graphs vs the same MuJoCo Warp calls launched one by one: the same kernels on the same inputs, so
# the states agree to float32 round-off (bitwise on Warp's CPU device; on CUDA atomics may reorder sums).
GRAPH_TOL = {"cpu": 0.0, "cuda:0": 1e-5}
_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the CUDA-graph path)")


@pytest.mark.parametrize(
    ("name", "device"),
    [
        ("tiny", "cpu"),  # the comparison itself, in CI (the full body costs ~15 s more on Warp's CPU device)
        pytest.param("tiny", "cuda:0", marks=[pytest.mark.gpu, _CUDA]),
        pytest.param("myofullbody-nofingers", "cuda:0", marks=[pytest.mark.gpu, _CUDA]),
    ],
)
def test_warp_graph_replay_matches_uncaptured_steps(name: str, device: str) -> None:
    """WarpSim.step (a CUDA graph captured once, then replayed, on CUDA) against mujoco_warp's step, kinematics,
    com_pos and com_vel launched eagerly on separate Data, with ctrl changing every step and one world's state
    rewritten mid-run (the graph must read the zero-copy buffers anew at every replay)."""
    mjw = pytest.importorskip("mujoco_warp")
    import warp as wp

    from mm_core import get_embodiment
    from mm_sim.backends import make_sim
    from mm_sim.motion import sinusoid_clip

    spec = get_embodiment(name)
    model = spec.compile()
    clip = sinusoid_clip(model, spec, seconds=0.5)
    worlds, phys = 2, spec.physics
    sim = make_sim("warp", model, worlds, phys, device)
    with wp.ScopedDevice(device):
        wm = mjw.put_model(model)
        wm.opt.warn_overflow = 0
        wd = mjw.make_data(model, nworld=worlds, nconmax=phys.nconmax, njmax=phys.njmax)
    ref = {f: wp.to_torch(getattr(wd, f)) for f in ("qpos", "qvel", "act", "ctrl", "site_xpos", "cvel")}

    def set_state(w: int, frame: int) -> None:
        for s in (sim.qpos, ref["qpos"]):
            s[w] = torch.as_tensor(clip.qpos[frame], dtype=s.dtype)
        for s in (sim.qvel, ref["qvel"]):
            s[w] = torch.as_tensor(clip.qvel[frame], dtype=s.dtype)

    def ref_forward() -> None:
        with wp.ScopedDevice(device):
            mjw.forward(wm, wd)

    for w in range(worlds):
        set_state(w, 10 + 5 * w)
    sim.act.zero_()
    ref["act"].zero_()
    sim.forward()
    ref_forward()
    gen = torch.Generator().manual_seed(0)
    for k in range(6):
        ctrl = torch.rand(worlds, model.nu, generator=gen).to(device)
        sim.ctrl.copy_(ctrl)
        ref["ctrl"].copy_(ctrl)
        sim.step()
        with wp.ScopedDevice(device):
            for _ in range(phys.substeps):
                mjw.step(wm, wd)
            mjw.kinematics(wm, wd)
            mjw.com_pos(wm, wd)
            mjw.com_vel(wm, wd)
            wp.synchronize_device()
        if k == 2:  # a reset of world 0 between replays
            set_state(0, 30)
            sim.forward()
            ref_forward()
        for f, want in ref.items():
            err = (getattr(sim, f) - want).abs().max().item()
            assert err <= GRAPH_TOL[device], (
                f"{name} on {device}: {f} differs by {err:.2e} after step {k + 1}"
            )
    assert torch.isfinite(sim.qpos).all()
    if device.startswith("cuda"):
        assert len(sim._graphs) == 1, "the control step should be captured once and replayed"
