from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mm_core import get_reference_dataset
from mm_validate.reference import (
    PACKAGED_DIR,
    ReferenceError,
    load_csv,
    load_reference,
    reference_dir,
)

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


def test_packaged_data_and_user_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MM_REFERENCE_DIR", raising=False)
    monkeypatch.delenv("MM_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    # No location given: the curves shipped with mm-validate, with their licence notice.
    assert reference_dir(None) == PACKAGED_DIR
    ref = load_reference("schwartz2008-walking-free")
    assert Path(ref.source).parent == PACKAGED_DIR and len(ref.curves) == 29
    notice = (PACKAGED_DIR / "NOTICE.md").read_text()
    assert (
        "CC BY 4.0" in notice
        and "Statement of changes" in notice
        and "10.1016/j.jbiomech.2008.03.015" in notice
    )
    # A user's own file overrides by path ($MM_REFERENCE_DIR or --reference-dir).
    own = tmp_path / "own"
    own.mkdir()
    rows = (PACKAGED_DIR / "bmcric_running.csv").read_text().splitlines(True)
    (own / "bmcric_running.csv").write_text(
        "".join(r for r in rows if r.startswith(("variable", "knee_flexion")))
    )
    monkeypatch.setenv("MM_REFERENCE_DIR", str(own))
    assert set(load_reference("bmcric-running").curves) == {"knee_flexion"}
    assert set(load_reference("bmcric-running", PACKAGED_DIR).curves) != {"knee_flexion"}
    monkeypatch.setenv("MM_REFERENCE_DIR", str(tmp_path / "nope"))
    with pytest.raises(ReferenceError, match="nope.*does not exist"):
        load_reference("bmcric-running")


@needs_data
def test_packaged_data_is_the_shared_data() -> None:
    for f in ("schwartz2008_walking.csv", "schwartz2008_events.csv", "bmcric_running.csv"):
        assert (PACKAGED_DIR / f).read_bytes() == (DATA / f).read_bytes(), f


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


def test_opensim_mot_radians_and_gait2392_knee(tmp_path: Path) -> None:
    from mm_validate.synthetic import write_sto

    t = np.arange(0, 5.5, 0.01)
    ph = 2 * np.pi * t / 1.1
    cols = {"time": t}
    for side, off in (("r", 0.0), ("l", np.pi)):
        cols[f"hip_flexion_{side}"] = np.radians(10 + 25 * np.cos(ph - off))  # peak = foot strike
        cols[f"knee_angle_{side}"] = -np.radians(
            30 - 25 * np.cos(ph - off + 0.3)
        )  # gait2392: flexion negative
    ref = load_reference(str(write_sto(tmp_path / "subject01_ik.mot", cols, "Coordinates", in_degrees=False)))
    assert set(ref.curves) == {"hip_flexion", "knee_flexion"}
    assert ref.curves["knee_flexion"].mean.min() > 0  # flipped to flexion positive, in degrees
    assert ref.curves["hip_flexion"].mean.max() == pytest.approx(35, abs=0.5)
    assert "rad, converted to deg" in ref.conventions["hip_flexion"]
    assert min(ref.cycles_per_side.values()) >= 3
