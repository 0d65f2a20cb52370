"""Checkpoints: round trip, identical continuation after resume, rejection of corrupted or foreign files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mm_rl import checkpoint
from mm_rl.checkpoint import CheckpointError
from mm_rl.config import resolve
from mm_rl.train import Trainer

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


def test_checkpoint_round_trip_and_identical_next_update(tmp_path: Path) -> None:
    cfg = _cfg(max_updates=3)
    a = Trainer(cfg, tmp_path / "run", progress=False)
    a.step()
    a.step()
    path = a.save_checkpoint()
    assert path is not None and path.name == "step_00000002.json"
    assert (tmp_path / "run" / "checkpoints" / "latest").read_text() == "step_00000002"
    ro, _ = a.rollout()  # one rollout, used by both trainers, so only the learner state can differ

    b = Trainer(cfg, tmp_path / "run", progress=False)  # same run dir: resumes from the latest checkpoint
    assert b.resuming and b.update == 2 and b.samples == a.samples
    for x, y in zip(_params(a.policy), _params(b.policy), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.ppo.return_norm.stats.var, b.ppo.return_norm.stats.var)
    # Same rollout -> bit-identical update: optimiser moments, normalisers and the shuffling RNG were restored.
    import copy

    ro_b = copy.deepcopy(ro)
    la = a.ppo.update(a.ppo.prepare(ro), a.shuffle)
    lb = b.ppo.update(b.ppo.prepare(ro_b), b.shuffle)
    assert la == lb
    for x, y in zip(_params(a.policy), _params(b.policy), strict=True):
        assert torch.equal(x, y)

    policy, meta = checkpoint.load_policy(tmp_path / "run")
    assert meta["embodiment"] == "tiny" and meta["step"] == 2 and meta["motions"]
    obs = torch.randn(4, policy.num_obs)
    assert policy.act(obs).shape == (4, policy.num_actions)


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
