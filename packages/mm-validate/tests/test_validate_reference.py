from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mm_core import get_reference_dataset
from mm_validate.reference import ReferenceError, load_csv, load_mot, load_reference, reference_dir

DATA = Path(__file__).parents[3] / ".." / "shared" / "data" / "reference"
needs_data = pytest.mark.skipif(
    not (DATA / "schwartz2008_walking.csv").is_file(), reason=f"reference data absent: {DATA}"
)


@needs_data
def test_schwartz_free() -> None:
    ref = get_reference_dataset("schwartz2008-walking-free").load(DATA)
    assert ref.name == "schwartz2008-walking-free"
    assert len(ref.curves) == 29
    knee = ref.curves["knee_flexion"]
    assert knee.unit == "deg" and len(knee.percent) == 51 and knee.percent[-1] == 100
    assert 55 < knee.mean.max() < 65  # swing peak
    grf = ref.curves["grf_vertical"]
    assert grf.unit == "BW" and grf.mean.max() == pytest.approx(1.10, abs=0.01)
    assert np.all(grf.sd >= 0)  # the sheet's swapped GRF band is read as a magnitude
    assert 0.9 < ref.baselines["knee_flexion"]["interspeed_r"] <= 1.0
    assert ref.stance_pct == (59.0, 2.0)  # ipsilateral foot off, from schwartz2008_events.csv


@needs_data
def test_all_speeds_and_running_registered() -> None:
    for s in ("very-slow", "slow", "free", "fast", "very-fast"):
        assert get_reference_dataset(f"schwartz2008-walking-{s}").load(DATA).curves
    run = load_reference("bmcric-running", DATA)
    assert len(run.curves) == 9
    assert run.curves["knee_flexion"].mean.max() == pytest.approx(91.3, abs=0.5)
    assert len(run.curves["knee_flexion"].percent) == 101


@needs_data
def test_env_var_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MM_REFERENCE_DIR", str(DATA))
    assert load_reference("bmcric-running").curves
    monkeypatch.delenv("MM_REFERENCE_DIR")
    monkeypatch.delenv("MM_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # no ../shared/data/reference from here
    with pytest.raises(ReferenceError, match="--reference-dir"):
        reference_dir(None)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lab.csv"
    p.write_text(text)
    return p


def _rows(var: str, unit: str, values: np.ndarray, sd: str = "1.0") -> str:
    pct = np.linspace(0, 100, len(values))
    return "".join(f"{var},{unit},{p:g},{v:g},{sd}\n" for p, v in zip(pct, values, strict=True))


HEAD = "variable,unit,percent_cycle,mean,sd\n"
KNEE = 30 + 30 * np.sin(np.linspace(0, 2 * np.pi, 11))


def test_user_csv(tmp_path: Path) -> None:
    ref = load_csv(_write(tmp_path, HEAD + _rows("knee_flexion", "deg", KNEE, sd="")))
    assert ref.name == "lab" and ref.curves["knee_flexion"].sd is None
    np.testing.assert_allclose(ref.curves["knee_flexion"].mean, KNEE, atol=1e-4)
    assert load_reference(str(tmp_path / "lab.csv")).curves


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variable,percent_cycle,mean,sd\nknee_flexion,0,1,1\n", r"missing column\(s\) \['unit'\]"),
        (HEAD + _rows("knee_flexion", "rad", np.radians(KNEE)), r"unit 'rad' of 'knee_flexion'"),
        (HEAD + _rows("knee_flexion", "BW", KNEE / 100), r"'knee_flexion' must be in 'deg'"),
        (
            HEAD + _rows("grf_vertical", "BW", 100 * np.abs(np.sin(np.linspace(0, 3, 11)))),
            r"outside the plausible",
        ),
        (
            HEAD + "".join(_rows("knee_flexion", "deg", KNEE).splitlines(True)[:-2]),
            r"percent_cycle must run from 0",
        ),
        (HEAD + "knee_flexion,deg,0,abc,1\n", r"line 2: column 'mean' is not a number"),
    ],
)
def test_bad_csv_rejected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ReferenceError, match=message) as e:
        load_csv(_write(tmp_path, text))
    assert "lab.csv" in str(e.value)


def test_unknown_reference_name() -> None:
    with pytest.raises(ReferenceError, match="schwartz2008-walking-free"):
        load_reference("no-such-dataset")


def test_opensim_mot(tmp_path: Path) -> None:
    t = np.linspace(0, 1.1, 56)
    knee = -np.radians(KNEE.mean() + 25 * np.sin(2 * np.pi * t / 1.1))  # gait2392: flexion negative, radians
    hip = np.radians(10 + 25 * np.cos(2 * np.pi * t / 1.1))
    body = "".join(f"{a:.4f}\t{h:.6f}\t{k:.6f}\n" for a, h, k in zip(t, hip, knee, strict=True))
    p = tmp_path / "subject01_ik.mot"
    p.write_text(
        f"Coordinates\nversion=1\nnRows={len(t)}\nnColumns=3\ninDegrees=no\nendheader\ntime\thip_flexion_r\tknee_angle_r\n{body}"
    )
    ref = load_mot(p)
    assert set(ref.curves) == {"hip_flexion", "knee_flexion"}
    assert ref.curves["knee_flexion"].mean.min() > 0  # flipped to flexion positive, in degrees
    assert ref.curves["hip_flexion"].mean.max() == pytest.approx(35, abs=0.1)
    assert ref.curves["hip_flexion"].percent[-1] == 100
    bad = tmp_path / "bad.mot"
    bad.write_text("no header here\n")
    with pytest.raises(ReferenceError, match="bad.mot.*endheader"):
        load_mot(bad)
