"""Data-parallel training: two processes on gloo (CPU) via torchrun keep identical parameters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mm_sim")


def test_torchrun_two_processes_keep_parameters_identical(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed next to this Python")
    run = tmp_path / "run"
    cmd = [
        torchrun, "--standalone", "--nproc-per-node", "2", "-m", "mm_rl.train",
        "--updates", "2", "--num-worlds", "4", "--backend", "mujoco", "--device", "cpu",
        "--run-dir", str(run), "--json",
        "--set", "ppo.num_steps=8", "--set", "ppo.num_minibatches=2", "--set", "checkpoint_every=1",
    ]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    for step in (1, 2):
        meta = json.loads((run / "checkpoints" / f"step_{step:08d}.json").read_text())
        assert meta["world_size"] == 2
        digests = meta["rank_param_sha256"]
        assert len(digests) == 2 and digests[0] == digests[1], digests
    # Samples count both processes' worlds: 2 updates x 2 ranks x 4 worlds x 8 steps.
    assert meta["samples"] == 2 * 2 * 4 * 8
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + one row per update, written by rank 0 only
