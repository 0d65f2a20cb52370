"""`mm train` / `mm eval` / `mm render` end to end on tiny (a few updates), resume and user errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("mm_sim")

from mm_core.cli import build_app  # noqa: E402

SMALL = ["--num-worlds", "8", "--backend", "mujoco", "--device", "cpu", "--set", "ppo.num_steps=8",
         "--set", "ppo.num_minibatches=2"]  # fmt: skip


@pytest.fixture(scope="module")
def app():
    return build_app()


def _run(app, args: list[str]):
    res = CliRunner().invoke(app, args)
    return res


def test_train_resume_eval_render(app, tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = _run(app, ["train", "--updates", "2", "--run-dir", str(run), "--json", *SMALL])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout[res.stdout.index("{") :])
    assert summary["update"] == 2 and summary["samples"] == 2 * 8 * 8
    assert {"before", "after"} <= set(summary["before_after"])
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["ppo"]["num_steps"] == 8 and cfg["embodiment"] == "tiny"
    assert (run / "checkpoints" / "step_00000000.json").is_file()

    # Re-running with a larger budget continues from the latest checkpoint.
    res = _run(app, ["train", "--updates", "3", "--run-dir", str(run), "--json", *SMALL])
    assert res.exit_code == 0, res.output
    import csv

    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["update"] for r in rows] == ["1", "2", "3"]
    # Linear decay over the budget in force: 2 updates (1, 1/2), then 3 after the resume (1/3 left).
    lr = [float(r["lr"]) for r in rows]
    assert lr == pytest.approx([cfg["ppo"]["lr"], cfg["ppo"]["lr"] / 2, cfg["ppo"]["lr"] / 3])

    # A different config on the same run dir is refused with a clear message.
    res = _run(app, ["train", "--updates", "4", "--run-dir", str(run), *SMALL, "--set", "ppo.lr=0.1"])
    assert res.exit_code != 0 and "different config" in res.output

    res = _run(app, ["eval", str(run), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{") :])
    assert report["embodiment"] == "tiny" and report["per_motion"]
    for key in ("early_termination_rate", "frame_coverage", "site_error_rel_m", "site_error_abs_m",
                "joint_error_rad", "baseline_frame_coverage"):  # fmt: skip
        assert key in report["overall"], key
    assert 0 < report["overall"]["frame_coverage"] <= 1

    # Fine-tuning from the run with a reset std, into a new run dir.
    res = _run(app, ["train", "--updates", "1", "--run-dir", str(tmp_path / "ft"), "--resume-from", str(run),
                     "--reset-std", "0.2", "--json", *SMALL, "--set", "eval_every=1"])  # fmt: skip
    assert res.exit_code == 0, res.output
    header = (tmp_path / "ft" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert "eval_frame_coverage" in header and "approx_kl" in header and "explained_variance" in header
    from mm_rl.checkpoint import load_policy

    policy, meta = load_policy(tmp_path / "ft" / "checkpoints" / "step_00000000.json")
    assert abs(float(policy.log_std.detach().exp().mean()) - 0.2) < 1e-5 and meta["update"] == 0

    # Rendering in a fresh process: MuJoCo picks its OpenGL backend (MUJOCO_GL) when first imported.
    out = tmp_path / "clip.mp4"
    cmd = [sys.executable, "-m", "mm_core.cli", "render", str(run), "--out", str(out), "--seconds", "0.3",
           "--width", "160", "--height", "120"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0 and "OpenGL" in res.stderr:
        pytest.skip(f"no offscreen OpenGL here: {res.stderr}")
    assert res.returncode == 0, res.stderr
    assert out.stat().st_size > 1000
    import imageio.v3 as iio

    frames = iio.imread(out)
    assert frames.shape[1:3] == (120, 160) and frames.shape[0] >= 5 and frames.std() > 1
    assert not list(tmp_path.glob(".*")), "a temporary file was left next to the MP4"
    # An existing --out is replaced only with --overwrite (written to a temporary name, then renamed).
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "existing file" in res.stderr and "--overwrite" in res.stderr, res.stderr
    res = subprocess.run([*cmd, "--overwrite"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert iio.imread(out).shape == frames.shape and not list(tmp_path.glob(".*"))


def test_eval_table_shows_every_tracking_metric(app, tmp_path: Path) -> None:
    """The human-readable ``mm eval`` table has a column for every metric of ``--json`` (README "Evaluation
    metrics"), with the same values, per motion and overall."""
    from mm_core.cli import _fmt
    from mm_rl.cli import EVAL_COLUMNS

    run = tmp_path / "run"
    assert _run(app, ["train", "--updates", "1", "--run-dir", str(run), "--json", *SMALL]).exit_code == 0
    res = _run(app, ["eval", str(run), "--no-baseline", "--json"])
    report = json.loads(res.stdout[res.stdout.index("{") :])
    metrics = {k for k in report["overall"] if k.endswith(("_rate", "_coverage", "_m", "_rad"))}
    assert {"site_error_rel_m", "site_rmse_abs_m", "root_rot_error_rad"} <= metrics
    assert set(EVAL_COLUMNS) == metrics, "a --json metric is missing from the table (or the other way round)"
    res = CliRunner().invoke(app, ["eval", str(run), "--no-baseline"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    header = next([c.strip() for c in line.split("┃")[1:-1]] for line in out if "┃" in line)
    rows = {
        cells[0]: cells
        for cells in ([c.strip() for c in line.split("│")[1:-1]] for line in out if "│" in line)
    }
    assert header == ["motion", *EVAL_COLUMNS.values()]
    for name, values in [*report["per_motion"].items(), ("overall", report["overall"])]:
        assert rows[name][1:] == [_fmt(values[k]) for k in EVAL_COLUMNS], name


def test_user_errors_are_clear(app, tmp_path: Path) -> None:
    res = _run(
        app,
        [
            "train",
            "--motions",
            str(tmp_path / "nope.npz"),
            "--updates",
            "1",
            "--run-dir",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 2 and "nope.npz: no such motion file" in res.output
    res = _run(app, ["train", "--set", "ppo.bogus=1", "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown key 'ppo.bogus'" in res.output
    res = _run(app, ["eval", str(tmp_path)])
    assert res.exit_code == 2 and "no checkpoint found" in res.output
    res = _run(app, ["train", "-e", "no-such-model", "--updates", "1", "--run-dir", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown embodiment" in res.output


def test_kinematic_walk_fallback_is_a_valid_moving_clip(tmp_path: Path) -> None:
    from mm_core import MotionClip
    from mm_rl.motions import kinematic_walk

    clip = kinematic_walk("tiny", seconds=1.0)
    path = clip.save(tmp_path / "walk.npz")
    again = MotionClip.load(path)
    assert again.num_frames == 101 and again.site_names[0] == "mimic_pelvis"
    assert again.qpos.std(0).max() > 0.1  # the legs swing
    assert again.site_pos[:, 1:].std(0).max() > 0.05  # and so do the tracked sites
    # it is mm's one walk (mm_models.walk), with qvel by the MotionClip convention
    import numpy as np

    from mm_core import get_embodiment
    from mm_models.kinematics import finite_difference_qvel
    from mm_models.walk import walk_qpos

    spec = get_embodiment("tiny")
    np.testing.assert_array_equal(again.qpos, walk_qpos(spec.compile(), spec, seconds=1.0))
    np.testing.assert_allclose(again.qvel, finite_difference_qvel(spec.compile(), again.qpos, 100.0))
