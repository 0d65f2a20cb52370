from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REF_DIR = Path(__file__).parents[3] / ".." / "shared" / "data" / "reference"
needs_data = pytest.mark.skipif(
    not (REF_DIR / "schwartz2008_walking.csv").is_file(), reason=f"reference data absent: {REF_DIR}"
)


def mm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mm_core.cli", *args], capture_output=True, text=True, timeout=300
    )


@needs_data
def test_cli_motion_json(tmp_path: Path) -> None:
    pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")
    from mm_validate.reference import load_reference
    from mm_validate.synthetic import synthetic_walk

    ref = load_reference("schwartz2008-walking-free", REF_DIR)
    clip = synthetic_walk("myofullbody-nofingers", ref).save(tmp_path / "walk.npz")
    out = tmp_path / "v"
    r = mm("validate", "--motion", str(clip), "--reference", "schwartz2008-walking-free",
           "--reference-dir", str(REF_DIR), "--out", str(out), "--events", "zeni", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["metrics"]["knee_flexion"]["r"] > 0.9
    assert {"r", "rmse", "in_band", "lag_r", "lag_pct"} <= set(summary["metrics"]["hip_flexion"])
    assert (
        (out / "report.html").is_file() and (out / "report.json").is_file() and (out / "angle.png").is_file()
    )


def test_cli_errors(tmp_path: Path) -> None:
    r = mm("validate", "--reference", "schwartz2008-walking-free", "--out", str(tmp_path))
    assert r.returncode == 2 and "exactly one of --motion" in r.stderr
    r = mm(
        "validate",
        "--motion",
        str(tmp_path / "nope.npz"),
        "--reference",
        "no-such-data",
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 2 and "no-such-data" in r.stderr and "schwartz2008-walking-free" in r.stderr


@pytest.mark.slow
def test_cli_trial_and_series_need_no_reference_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packaged curves (no --reference-dir), a whole .mot trial with its external loads, and a time-series .mot."""
    pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")
    import numpy as np

    from mm_validate.reference import load_reference
    from mm_validate.synthetic import synthetic_trial, synthetic_walk, write_sto

    monkeypatch.delenv("MM_REFERENCE_DIR", raising=False)
    ref = load_reference("schwartz2008-walking-free")
    clip = synthetic_walk("myofullbody-nofingers", ref).save(tmp_path / "walk.npz")
    ik = synthetic_trial(ref, tmp_path / "ik.mot", forces_path=tmp_path / "grf.mot")
    r = mm("validate", "--motion", str(clip), "--reference", str(ik), "--reference-forces", str(tmp_path / "grf.mot"),
           "--out", str(tmp_path / "v"), "--events", "zeni", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["metrics"]["knee_flexion"]["lag_r"] > 0.99 and "ankle_inversion" not in s["metrics"]
    assert s["gait"]["reference_cycles_left"] >= 4
    assert any("reference trial (walking): events from force" in n for n in s["notes"])
    # A hip-only .mot on the same clip has leg coordinates: still gait. A .mot of the trunk/arms is a time series.
    t = np.arange(300) / 100.0
    arm = write_sto(tmp_path / "arm.mot", {"time": t, "elbow_flexion_r": 20 + 30 * np.sin(t)}, "Coordinates")
    r = mm("validate", "--motion", str(clip), "--reference", str(arm), "--out", str(tmp_path / "s"), "--json")
    assert r.returncode == 2 and "no column is named like a joint" in r.stderr  # myofullbody: elbow_flex_r
