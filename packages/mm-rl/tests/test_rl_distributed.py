"""Data-parallel training: two processes on gloo (CPU) compute what one process computes on their data together,
and a torchrun training run with a time budget keeps its ranks identical.

Run as a script under torchrun (``python -m torch.distributed.run --nproc-per-node 2 this_file OUT``), this file
is the worker of :func:`test_two_processes_match_one_process_on_the_same_data`.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mm_rl.config import PolicyConfig, PPOConfig
from mm_rl.policy import ActorCritic
from mm_rl.ppo import PPO

B = 32  # samples in the whole batch (split between the ranks)


def _ppo_update(rank: int, world: int) -> dict[str, object]:
    """Three PPO epochs of one minibatch on this rank's share of one fixed batch; returns weights and gradients."""
    torch.manual_seed(0)
    pol = ActorCritic(6, 3, PolicyConfig(actor_width=16, actor_depth=2, critic_width=16, critic_depth=2), 0.7)
    # max_grad_norm high: the gradients after the update are the raw averaged ones (summing would double them).
    cfg = PPOConfig(num_minibatches=1, epochs=3, lr=1e-2, max_grad_norm=1e9)
    ppo = PPO(pol, cfg, num_envs=B // world)
    g = torch.Generator().manual_seed(1)
    obs, act = torch.randn(B, 6, generator=g), torch.randn(B, 3, generator=g)
    adv, ret = torch.randn(B, generator=g) * 3 + 1, torch.randn(B, generator=g)
    with torch.no_grad():
        logp, _, values = pol.evaluate(obs, act)
    batch = dict(obs=obs, actions=act, logp=logp, values=values, advantages=adv, returns=ret)
    share = {k: v[rank::world] for k, v in batch.items()}
    out = ppo.update(share, torch.Generator().manual_seed(2))
    return {
        "params": [p.detach().clone() for p in pol.parameters()],
        "grads": [p.grad.detach().clone() for p in pol.parameters()],
        "stats": out,
    }


def _rollout_counts(run_dir: Path) -> dict[str, object]:
    """One rollout of a 2-process Trainer (tiny, short episodes): this rank's own finished episodes, and what the
    sampler and the logged figures counted."""
    from mm_rl.config import resolve
    from mm_rl.trainer import Trainer

    overrides = ["ppo.num_steps=12", "ppo.num_minibatches=2", "task.horizon=4", "sampling.adaptive=true"]
    cfg = resolve("tiny", None, overrides, num_worlds=3, max_updates=1, backend="mujoco", device="cpu")
    trainer = Trainer(cfg, run_dir, progress=False)
    ro, stats = trainer.rollout()
    return {
        "own_episodes": float((ro.terminated | ro.truncated).sum()),
        "sampler_episodes": trainer.sampler.episodes.tolist(),
        "sampler_failures": trainer.sampler.failures.tolist(),
        "logged_episodes": stats["episodes"],
    }


def _torchrun() -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]


def test_two_processes_match_one_process_on_the_same_data(tmp_path: Path) -> None:
    """Gradients averaged (not summed) over ranks, advantages normalised over the ranks' minibatches together:
    two processes with half the batch each end where one process with the whole batch ends. A Trainer's episode
    counts (adaptive sampler, logged figures) are summed over the ranks."""
    pytest.importorskip("mm_sim")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(
        [*_torchrun(), __file__, str(tmp_path)], capture_output=True, text=True, timeout=300, env=env
    )
    assert res.returncode == 0, res.stderr[-4000:]
    one = _ppo_update(0, 1)
    for rank in (0, 1):
        two = torch.load(tmp_path / f"rank{rank}.pt")
        for a, b in zip(one["grads"], two["grads"], strict=True):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), (rank, (a - b).abs().max())
        for a, b in zip(one["params"], two["params"], strict=True):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), (rank, (a - b).abs().max())
        logged = ("grad_norm", "policy_loss", "value_loss", "approx_kl", "clip_frac")  # means over all ranks
        for k in logged:
            assert two["stats"][k] == pytest.approx(one["stats"][k], rel=1e-3, abs=1e-7), k
    # The adaptive sampler (saved from rank 0) and the logged episode count hold both ranks' episodes.
    r0, r1 = (torch.load(tmp_path / f"rollout{rank}.pt") for rank in (0, 1))
    both = r0["own_episodes"] + r1["own_episodes"]
    assert both > r0["own_episodes"] > 0
    for r in (r0, r1):
        assert sum(r["sampler_episodes"]) == pytest.approx(both) and r["logged_episodes"] == pytest.approx(
            both
        )
    assert r0["sampler_failures"] == r1["sampler_failures"]


def test_torchrun_minutes_budget_keeps_ranks_identical(tmp_path: Path) -> None:
    """``torchrun --nproc-per-node 2 -m mm_rl.train ... --minutes 0.3``: the learning rate decays by rank 0's clock
    and both ranks stop after the same update with identical weights; the adaptive sampler counts every rank's
    episodes."""
    pytest.importorskip("mm_sim")
    run = tmp_path / "run"
    cmd = [
        *_torchrun(), "-m", "mm_rl.train",
        "--minutes", "0.3", "--num-worlds", "4", "--backend", "mujoco", "--device", "cpu",
        "--run-dir", str(run), "--json",
        "--set", "ppo.num_steps=8", "--set", "ppo.num_minibatches=2", "--set", "checkpoint_every=1",
        "--set", "keep_checkpoints=1000", "--set", "sampling.adaptive=true", "--set", "task.horizon=5",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))  # written by rank 0 only: one row per update
    n = len(rows)
    assert n >= 2 and [int(r["update"]) for r in rows] == list(range(1, n + 1))
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(3e-3) and all(b < a for a, b in zip(lrs, lrs[1:], strict=False)), lrs
    elapsed = [float(r["elapsed_s"]) for r in rows]
    assert elapsed[-1] >= 18.0 and elapsed[-2] < 18.0  # stopped after the first update past 0.3 minutes
    episodes = 0.0
    for step in range(1, n + 1):
        meta = json.loads((run / "checkpoints" / f"step_{step:08d}.json").read_text())
        assert meta["world_size"] == 2
        digests = meta["rank_param_sha256"]
        assert len(digests) == 2 and digests[0] == digests[1], (step, digests)
        # Sampler counts (decayed by 0.99 per update) hold the episodes of both ranks, as the logged rows do.
        episodes = 0.99 * episodes + float(rows[step - 1]["episodes"])
        assert sum(meta["sampler"]["episodes"]) == pytest.approx(episodes), step
    # Samples count both processes' worlds: updates x 2 ranks x 4 worlds x 8 steps.
    assert meta["samples"] == n * 2 * 4 * 8


if __name__ == "__main__":  # worker of test_two_processes_match_one_process_on_the_same_data
    import torch.distributed as dist

    dist.init_process_group("gloo")
    out, rank = Path(sys.argv[1]), dist.get_rank()
    torch.save(_ppo_update(rank, dist.get_world_size()), out / f"rank{rank}.pt")
    torch.save(_rollout_counts(out / "run"), out / f"rollout{rank}.pt")
    dist.destroy_process_group()
