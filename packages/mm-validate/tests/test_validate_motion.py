"""Kinematic validation of real, retargeted CMU clips and of a synthetic clip with known joint angles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mm_core import MotionClip, get_embodiment
from mm_validate.reference import load_reference
from mm_validate.synthetic import synthetic_walk
from mm_validate.validate import validate_clip

# The embodiments these tests run on come from mm-models (a dev-workspace package, not a dependency of mm-validate).
pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")

SHARED = Path(__file__).parents[3] / ".." / "shared" / "data"
REF_DIR = SHARED / "reference"
MOCAP = SHARED / "mocap"
EMBODIMENT = "myofullbody-nofingers"
needs_data = pytest.mark.skipif(
    not (REF_DIR / "schwartz2008_walking.csv").is_file() or not (MOCAP / "35_01.bvh").is_file(),
    reason=f"shared data absent: {SHARED}",
)


def _retarget(path: Path) -> MotionClip:
    from mm_core import get_retargeter, motion_reader_for

    source = motion_reader_for(path).read(path)
    return get_retargeter("gmr-fit").retarget(source, get_embodiment(EMBODIMENT))


@pytest.fixture(scope="session")
def cmu_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """35_01 (walk) and 35_17 (run) retargeted once per test session, saved as clips."""
    pytest.importorskip("mm_retarget", reason="retargeting the CMU clips needs mm-retarget")
    out = tmp_path_factory.mktemp("cmu")
    return {name: _retarget(MOCAP / f"{name}.bvh").save(out / f"{name}.npz") for name in ("35_01", "35_17")}


@needs_data
def test_cmu_walk_against_schwartz(cmu_clips: dict[str, Path], tmp_path: Path) -> None:
    ref = load_reference("schwartz2008-walking-free", REF_DIR)
    report = validate_clip(MotionClip.load(cmu_clips["35_01"]), ref, tmp_path)
    m = report.metrics
    print(
        {
            q: (round(m[q]["r"], 3), round(m[q]["rmse"], 1))
            for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")
        }
    )
    assert m["gait"]["running"] == 0.0 and m["gait"]["cycles_left"] + m["gait"]["cycles_right"] >= 2
    assert m["hip_flexion"]["r"] > 0.9
    assert m["knee_flexion"]["r"] > 0.9
    assert m["ankle_dorsiflexion"]["r"] > 0.7
    assert m["knee_flexion"]["rmse"] < 15
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["metrics"]["knee_flexion"]["r"] == pytest.approx(m["knee_flexion"]["r"])
    html = (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in html and "knee_flexion" in html
    assert (tmp_path / "angle.png").stat().st_size > 10_000


@needs_data
def test_cmu_run_against_bmcric(cmu_clips: dict[str, Path], tmp_path: Path) -> None:
    ref = load_reference("bmcric-running", REF_DIR)
    report = validate_clip(MotionClip.load(cmu_clips["35_17"]), ref, tmp_path)
    m = report.metrics
    print(
        {
            q: (round(m[q]["r"], 3), round(m[q]["rmse"], 1))
            for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion")
        }
    )
    assert m["gait"]["running"] == 1.0
    assert m["hip_flexion"]["r"] > 0.9
    assert m["knee_flexion"]["r"] > 0.9
    assert m["ankle_dorsiflexion"]["r"] > 0.7


@pytest.mark.skipif(
    not (REF_DIR / "schwartz2008_walking.csv").is_file(), reason=f"reference data absent: {REF_DIR}"
)
def test_synthetic_walk_recovers_reference(tmp_path: Path) -> None:
    ref = load_reference("schwartz2008-walking-free", REF_DIR)
    # Joints set by name in the model's convention; validation must give the curves back whatever the mapping does.
    # The synthetic feet slide (no contact-consistent motion), so events come from Zeni's method.
    report = validate_clip(synthetic_walk(EMBODIMENT, ref), ref, tmp_path, events="zeni")
    m = report.metrics
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion"):
        assert m[q]["r"] > 0.9, (q, m[q])
        assert m[q]["lag_r"] > 0.99, (q, m[q])  # the exact shape, shifted by the kinematic event detection
        assert abs(m[q]["lag_pct"]) <= 4.0, (q, m[q])
    assert m["gait"]["cycles_right"] >= 3 and m["gait"]["cycles_left"] >= 3
    assert abs(m["gait"]["stride_time_s"] - 1.1) < 0.02


def _turned(clip: MotionClip, degrees: float = 90.0) -> MotionClip:
    """The clip walking a 90° turn: the root's heading and path rotate smoothly over the middle 40 % of it."""
    import dataclasses

    import mujoco

    q = clip.qpos.copy()
    T = len(q)
    s = np.clip((np.arange(T) / (T - 1) - 0.3) / 0.4, 0, 1)
    th = np.radians(degrees) * (0.5 - 0.5 * np.cos(np.pi * s))
    d = np.diff(clip.qpos[:, :2], axis=0)
    c, sn = np.cos(th[1:]), np.sin(th[1:])
    q[1:, :2] = clip.qpos[0, :2] + np.cumsum(
        np.stack([c * d[:, 0] - sn * d[:, 1], sn * d[:, 0] + c * d[:, 1]], 1), 0
    )
    for t in range(T):
        mujoco.mju_mulQuat(
            q[t, 3:7], np.array([np.cos(th[t] / 2), 0, 0, np.sin(th[t] / 2)]), clip.qpos[t, 3:7].copy()
        )
    return dataclasses.replace(clip, qpos=q, name=f"{clip.name}_turn")


@needs_data
def test_turning_walk_is_walking(cmu_clips: dict[str, Path], tmp_path: Path) -> None:
    clip = _turned(MotionClip.load(cmu_clips["35_01"]))
    heading = clip.qpos[-1, :2] - clip.qpos[-40, :2]
    start = clip.qpos[40, :2] - clip.qpos[0, :2]
    assert abs(
        np.degrees(np.arctan2(start[0] * heading[1] - start[1] * heading[0], start @ heading))
    ) == pytest.approx(90, abs=10)
    m = validate_clip(clip, load_reference("schwartz2008-walking-free"), tmp_path).metrics
    assert m["gait"]["running"] == 0.0
    assert m["gait"]["double_support_pct"] > m["gait"]["flight_pct"]
    assert m["knee_flexion"]["r"] > 0.9


@needs_data
@pytest.mark.parametrize(
    ("clip", "dataset", "trial_kw", "walk"),
    [
        ("35_01", "schwartz2008-walking-free", {"strides": 6, "start": 0.37}, True),
        ("35_17", "bmcric-running", {"strides": 12, "stride_s": 0.72, "stance": 0.36, "start": 0.81,
                                     "gait2392_knee": False}, False),
    ],
)  # fmt: skip
def test_cmu_against_whole_opensim_trial(
    cmu_clips: dict[str, Path], tmp_path: Path, clip: str, dataset: str, trial_kw: dict, walk: bool
) -> None:
    """A whole multi-stride OpenSim trial starting mid-cycle (with its external loads) gives the r of the hand-cut
    cycles (the dataset's own curves)."""
    from mm_validate.synthetic import synthetic_trial

    published = load_reference(dataset)
    ik = synthetic_trial(published, tmp_path / "ik.mot", forces_path=tmp_path / "grf.mot", **trial_kw)
    trial = load_reference(str(ik), forces=tmp_path / "grf.mot")
    assert trial.gait_type == ("walking" if walk else "running")
    motion = MotionClip.load(cmu_clips[clip])
    hand = validate_clip(motion, published, tmp_path / "hand").metrics
    whole = validate_clip(motion, trial, tmp_path / "whole").metrics
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion"):
        assert abs(whole[q]["r"] - hand[q]["r"]) < 0.05, (q, whole[q]["r"], hand[q]["r"])
    if walk:
        assert whole["hip_flexion"]["r"] >= 0.9 and whole["knee_flexion"]["r"] >= 0.9
    assert "ankle_inversion" not in whole  # locked subtalar in the trial: not compared
