"""Checkpoints: round trip, identical continuation after resume, rejection of corrupted or foreign files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mm_rl import checkpoint
from mm_rl.checkpoint import CheckpointError
from mm_rl.config import resolve
from mm_rl.trainer import Trainer

pytest.importorskip("mm_sim")


def _cfg(**kw):
    cfg = resolve(
        "tiny", None, ["ppo.num_steps=8", "ppo.num_minibatches=2", "ppo.epochs=1"], num_worlds=8, **kw
    )
    cfg.backend = "mujoco"
    cfg.device = "cpu"
    return cfg


def _params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in list(module.parameters()) + list(module.buffers())]


#: Row keys that measure time (differ between any two runs); every other logged figure must match exactly.
TIMING = {
    "elapsed_s",
    "samples_per_s",
    "time_env",
    "time_act",
    "time_learn",
    "frac_env",
    "frac_act",
    "frac_learn",
}


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    cfg = _cfg(max_updates=3)
    a = Trainer(cfg, tmp_path / "run", progress=False)
    a.step()
    a.step()
    path = a.save_checkpoint()
    assert path is not None and path.name == "step_00000002.json"
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text() == "step_00000002"
    b = Trainer(cfg, tmp_path / "run", progress=False)  # same run dir: resumes from the latest checkpoint
    assert b.resuming and b.update == 2 and b.samples == a.samples
    for x, y in zip(_params(a.policy), _params(b.policy), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.ppo.return_norm.stats.var, b.ppo.return_norm.stats.var)

    policy, meta = checkpoint.load_policy(tmp_path / "run")
    assert meta["embodiment"] == "tiny" and meta["step"] == 2 and meta["motions"]
    obs = torch.randn(4, policy.num_obs)
    assert policy.act(obs).shape == (4, policy.num_actions)


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path: Path) -> None:
    """Same seed, same command: 4 updates in one go vs 2 updates, a checkpoint, a new process (a new Trainer on
    the run dir, as re-running the command does) and 2 more. Every rollout (rewards, episodes, losses) and the
    final weights are bit-identical: the env's physics, episodes and RNG, the current observations, the return
    normaliser's per-world returns, the optimiser and every RNG were saved and restored (C MuJoCo backend)."""
    cfg = _cfg(max_updates=4)
    cfg.task.horizon = 6  # episodes end inside the window (time limits, resets and their RNG draws)
    whole = Trainer(cfg, tmp_path / "whole", progress=False)
    rows_whole = [whole.step() for _ in range(4)]

    first = Trainer(cfg, tmp_path / "split", progress=False)
    rows_split = [first.step() for _ in range(2)]
    first.save_checkpoint()
    first.env.close()
    del first
    second = Trainer(cfg, tmp_path / "split", progress=False)
    assert second.resuming and second.update == 2
    rows_split += [second.step() for _ in range(2)]

    assert sum(r["episodes"] for r in rows_whole) >= 8  # resets happened before and after the interruption
    for rw, rs in zip(rows_whole, rows_split, strict=True):
        assert {k: v for k, v in rw.items() if k not in TIMING} == {
            k: v for k, v in rs.items() if k not in TIMING
        }
    for x, y in zip(_params(whole.policy), _params(second.policy), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(whole.ppo.return_norm.ret, second.ppo.return_norm.ret)
    assert torch.equal(whole.env.sim.qpos, second.env.sim.qpos)
    # The learning rate decays linearly over the 4-update budget, across the interruption too.
    assert [r["lr"] for r in rows_split] == pytest.approx([3e-3 * (1 - u / 4) for u in range(4)])


def test_reset_std_only_at_the_start_of_a_fine_tune(tmp_path: Path) -> None:
    """--reset-std applies when a fine-tune starts from another run, not again when the fine-tune is resumed by
    re-running the same command (which would restart exploration mid-run)."""
    cfg = _cfg(max_updates=2)
    base = Trainer(cfg, tmp_path / "base", progress=False)
    base.step()
    base.save_checkpoint()
    ft = Trainer(cfg, tmp_path / "ft", resume_from=tmp_path / "base", reset_std=2.0, progress=False)
    assert torch.allclose(ft.policy.log_std.exp(), torch.full_like(ft.policy.log_std, 2.0))
    ft.step()
    ft.save_checkpoint()
    trained = ft.policy.log_std.detach().clone()
    assert not torch.allclose(trained.exp(), torch.full_like(trained, 2.0))
    again = Trainer(cfg, tmp_path / "ft", resume_from=tmp_path / "base", reset_std=2.0, progress=False)
    assert again.resuming and again.update == 1
    assert torch.equal(again.policy.log_std.detach(), trained)


def test_corrupted_and_foreign_checkpoints_are_rejected(tmp_path: Path) -> None:
    cfg = _cfg(max_updates=1)
    t = Trainer(cfg, tmp_path / "run", progress=False)
    ck = tmp_path / "run" / "checkpoints" / "step_00000000"
    assert checkpoint.load(tmp_path / "run")[1]["update"] == 0
    del t

    weights = ck.with_suffix(".safetensors")
    blob = bytearray(weights.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="corrupted"):
        checkpoint.load(ck.with_suffix(".json"))

    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"model": "something else"}))
    with pytest.raises(CheckpointError, match="not an mm-rl checkpoint"):
        checkpoint.load(foreign)
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        checkpoint.load(garbage)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        checkpoint.load(tmp_path)
    # A checkpoint-shaped file whose weights are not safetensors (e.g. a pickle) is refused, never unpickled.
    meta = json.loads(ck.with_suffix(".json").read_text())
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "step_00000000.safetensors").write_bytes(b"\x80\x04\x95pickle")
    import hashlib

    meta["sha256"] = hashlib.sha256(b"\x80\x04\x95pickle").hexdigest()
    (fake / "step_00000000.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        checkpoint.load(fake / "step_00000000.json")


def test_run_written_with_the_old_task_format_resumes_and_evaluates(tmp_path: Path) -> None:
    """config.json and checkpoints of the version where ``task`` held only overrides (dotted keys allowed): the run
    continues (same config), and its checkpoint evaluates with the task those overrides made."""
    from mm_rl import task_config
    from mm_rl.evaluate import evaluate_checkpoint

    overrides = [
        "ppo.num_steps=8",
        "ppo.num_minibatches=2",
        "task.horizon=6",
        "task.rewards.site_pos.weight=0.3",
    ]
    cfg = resolve("tiny", None, overrides, num_worlds=8, max_updates=1)
    cfg.backend, cfg.device = "mujoco", "cpu"
    run = tmp_path / "run"
    Trainer(cfg, run, progress=False).run()
    old_task = {"horizon": 6, "rewards.site_pos.weight": 0.3}
    saved = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(saved | {"task": old_task}))
    for p in checkpoint.list_checkpoints(run):  # the JSON is not covered by the weights' SHA-256
        meta = json.loads(p.read_text())
        meta["config"]["task"] = meta["task"] = old_task
        p.write_text(json.dumps(meta))
    _, meta = checkpoint.load_policy(run)
    assert task_config(meta) == cfg.task
    assert task_config(meta, evaluation=True) == task_config(cfg, evaluation=True)

    cfg.max_updates = 2
    again = Trainer(cfg, run, progress=False)
    assert again.resuming and again.update == 1
    assert again.run()["update"] == 2
    report = evaluate_checkpoint(run)
    assert report.embodiment == "tiny" and 0 <= report.overall["frame_coverage"] <= 1
