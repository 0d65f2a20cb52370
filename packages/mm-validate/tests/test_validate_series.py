"""Validation beyond gait: a bimanual arm reach against a .mot coordinate trial, aligned by cross-correlation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mm_validate.reference import ReferenceError
from mm_validate.synthetic import write_sto

pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")
EMBODIMENT = "bimanual-nofingers"
FPS = 100.0


def _reach(t: np.ndarray, t0: float) -> np.ndarray:
    """A smooth reach-and-return: 0 -> 1 -> 0 around ``t0`` (minimum-jerk-like bell)."""
    return np.exp(-(((t - t0) / 0.5) ** 2))


def _clip() -> object:
    import mujoco

    from mm_core import MotionClip, get_embodiment

    spec = get_embodiment(EMBODIMENT)
    model = spec.compile()
    t = np.arange(400) / FPS
    qpos = np.tile(model.qpos0, (len(t), 1))
    for joint, amp in (("elbow_flex_r", 1.2), ("shoulder_elv_r", 0.9)):
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)
        qpos[:, model.jnt_qposadr[j]] = 0.2 + amp * _reach(t, 2.0)
    n = len(spec.tracked_sites)
    return MotionClip(fps=FPS, qpos=qpos, qvel=np.zeros((len(t), model.nv)), site_pos=np.zeros((len(t), n, 3)),
                      site_quat=np.tile([1.0, 0, 0, 0], (len(t), n, 1)), site_names=tuple(spec.tracked_sites),
                      embodiment=EMBODIMENT, name="reach")  # fmt: skip


def _mot(path: Path, shift_s: float) -> Path:
    # The lab's recording starts 1 s earlier and lasts 5 s: its reach peaks at 2.0 + shift_s of its own time.
    t = np.arange(500) / FPS
    rng = np.random.default_rng(0)
    cols = {
        "time": 10.0 + t,  # lab clocks rarely start at 0
        "elbow_flex_r": np.degrees(0.2 + 1.2 * _reach(t, 2.0 + shift_s)) + 0.3 * rng.standard_normal(len(t)),
        "shoulder_elv_r": np.degrees(0.2 + 0.9 * _reach(t, 2.0 + shift_s))
        + 0.3 * rng.standard_normal(len(t)),
        "pro_sup_r": np.full(len(t), 12.0),  # locked in the lab model
        "not_a_joint": t,
    }
    return write_sto(path, cols, "Coordinates")


def test_reach_aligned_by_cross_correlation(tmp_path: Path) -> None:
    from mm_validate.series import validate_series

    mot = _mot(tmp_path / "reach.mot", shift_s=0.3)
    rep = validate_series(_clip(), mot, tmp_path / "x")
    m = rep.metrics
    assert m["series"]["lag_s"] == pytest.approx(0.3, abs=0.011)
    for c in ("elbow_flex_r", "shoulder_elv_r"):
        assert m[c]["r"] > 0.99 and m[c]["rmse"] < 1.0, (c, m[c])
    assert "pro_sup_r" not in m and any(
        "pro_sup_r" in n and "constant in the reference" in n for n in rep.notes
    )
    assert any(n.startswith("checks applied: coordinate time series") for n in rep.notes)
    # Aligned by time instead, the 0.3 s offset shows.
    by_time = validate_series(_clip(), mot, tmp_path / "t", align="time").metrics
    assert by_time["series"]["lag_s"] == 0.0 and by_time["elbow_flex_r"]["r"] < 0.9
    saved = json.loads((tmp_path / "x" / "report.json").read_text())
    assert saved["metrics"]["elbow_flex_r"]["r"] == pytest.approx(m["elbow_flex_r"]["r"])
    assert "data:image/png;base64," in (tmp_path / "x" / "report.html").read_text()


def test_series_without_shared_joints_rejected(tmp_path: Path) -> None:
    from mm_validate.series import validate_series

    t = np.arange(50) / FPS
    mot = write_sto(tmp_path / "legs.mot", {"time": t, "knee_angle_r": t}, "Coordinates")
    with pytest.raises(ReferenceError, match=r"legs.mot: no column is named like a joint of embodiment"):
        validate_series(_clip(), mot, tmp_path / "x")
