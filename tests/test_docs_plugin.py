"""docs/write-a-plugin.md, run as written: its motion recipe makes a clip for the hopper plugin that the imitation
task accepts, and `mm validate` compares it beyond gait (joint coordinates against a lab .mot), as section 5 says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mm_plugin_hopper", reason="the worked example plugin")
pytest.importorskip("mm_validate")

DOC = Path(__file__).resolve().parents[1] / "docs" / "write-a-plugin.md"


def _snippet(marker: str) -> str:
    """The python code block of the doc whose first line contains ``marker``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    found = [b for b in blocks if marker in b.splitlines()[0]]
    assert len(found) == 1, f"{DOC}: expected one python block starting with {marker!r}, found {len(found)}"
    return found[0]


def test_motion_recipe_runs_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from mm_core import MotionClip
    from mm_sim import make_env
    from mm_validate.synthetic import write_sto

    monkeypatch.chdir(tmp_path)
    exec(compile(_snippet("a 2 s hop for the hopper"), str(DOC), "exec"), {})
    clip = MotionClip.load(tmp_path / "hop.npz")
    assert clip.fps == 100.0 and clip.num_frames == 200 and clip.embodiment == "hopper"
    # The documented qvel convention: central differences (a cosine's derivative, exactly at an inner frame).
    knee = list(clip.joint_names).index("knee_angle")
    t = np.arange(200) / 100.0
    k = 37
    central = (clip.qpos[k + 1, knee] - clip.qpos[k - 1, knee]) * 50.0
    assert clip.qvel[k, knee] == pytest.approx(central, abs=1e-12)
    assert clip.qvel[k, knee] == pytest.approx(np.pi * np.sin(2 * np.pi * t[k]), rel=2e-3)

    # The task accepts it: an env on the clip steps (a replay of the motion's start stays on the reference).
    env = make_env("hopper", [clip], backend="mujoco", num_worlds=2)
    try:
        env.reset(frames=0)
        _, reward, _, _, info = env.step(torch.zeros(2, env.num_actions))
        assert reward.shape == (2,) and bool(torch.isfinite(reward).all())
        assert float(info["tracking"]["site_abs_m"].max()) < 0.05
    finally:
        env.close()

    # Beyond gait: the lab's .mot (degrees, its clock offset, starting 0.25 s later) against the clip's joints.
    lab_t = np.arange(150) / 100.0
    bend = 0.5 * (1 - np.cos(2 * np.pi * (lab_t + 0.25)))
    mot = write_sto(
        tmp_path / "hop.mot",
        {"time": 5.0 + lab_t, "knee_angle": np.degrees(bend), "hip_flexion": np.degrees(0.5 * bend)},
        "Coordinates",
    )
    env_vars = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-m", "mm_core.cli", "validate", "--motion", "hop.npz", "--reference", str(mot),
         "--align", "xcorr", "--out", "v", "--json"],
        capture_output=True, text=True, env=env_vars, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    rep = json.loads((tmp_path / "v" / "report.json").read_text())
    m = rep["metrics"]
    for joint in ("knee_angle", "hip_flexion"):
        assert m[joint]["r"] > 0.999 and m[joint]["rmse"] < 1.0, (joint, m[joint])  # deg; the .mot is rounded
    # The lab's time t is the clip's t + 0.25 s: the best lag is -0.25 s, modulo the 1 s hop period.
    lag = m["series"]["lag_s"]
    assert abs(((lag + 0.25) % 1.0 + 0.5) % 1.0 - 0.5) < 0.011, lag
