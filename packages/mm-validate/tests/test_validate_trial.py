"""Lab trials as references: whole OpenSim .mot trials (with external loads) and C3D files, cut into cycles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mm_validate import gait
from mm_validate.metrics import pearson_r
from mm_validate.reference import ReferenceError, load_reference
from mm_validate.synthetic import synthetic_trial, write_sto
from mm_validate.trial import (
    PLANAR_LEG,
    RUNNING_RISE,
    load_trial,
    planar_stance_rise,
    read_c3d,
    read_sto,
    trial_events,
    trial_from_sto,
)

SCHWARTZ = load_reference("schwartz2008-walking-free")  # the packaged curves
BMCRIC = load_reference("bmcric-running")
RUN_TRIAL = {"strides": 12, "stride_s": 0.72, "stance": 0.36, "start": 0.81, "gait2392_knee": False}
STRIDE_S, FPS = 1.1, 100.0


def _r(ref_curve: object, trial_curve: object) -> float:
    return pearson_r(np.interp(ref_curve.percent, trial_curve.percent, trial_curve.mean), ref_curve.mean)


def test_mot_trial_cut_into_cycles_by_force(tmp_path: Path) -> None:
    # 6 strides starting at 37 % of the cycle, knee flexion negative (gait2392), subtalar locked.
    ik = synthetic_trial(SCHWARTZ, tmp_path / "walk_ik.mot", forces_path=tmp_path / "walk_grf.mot")
    ref = load_reference(str(ik), forces=tmp_path / "walk_grf.mot")
    assert ref.event_method.startswith("force")
    # Right strikes at phase 0: 6 strides from phase 0.37 hold 5 strikes -> 4 complete cycles (5 for the left,
    # whose strikes fall at phase 0.5 of the right leg).
    assert ref.cycles_per_side == {"right": 5, "left": 5} or ref.cycles_per_side == {"right": 4, "left": 5}
    knee = ref.curves["knee_flexion"]
    assert knee.cycles is not None and len(knee.cycles) == sum(ref.cycles_per_side.values())
    assert knee.mean.max() > 50  # flipped to flexion positive
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion"):
        assert _r(SCHWARTZ.curves[q], ref.curves[q]) > 0.995, q  # the hand-cut cycle comes back
    assert ref.stance_pct[0] == pytest.approx(60.0, abs=1.5)
    grf = ref.curves["grf_vertical"]
    assert grf.unit == "BW" and 0.9 < grf.mean.max() < 1.6
    assert ref.curves["grf_anterior"].mean[5:25].mean() < 0  # braking first
    # The kinematic cross-check (planar leg) agrees within the tolerance on walking: no warning.
    assert not [n for n in ref.notes if "disagree" in n]


def test_mot_trial_kinematic_events_and_old_single_cycle_rule_gone(tmp_path: Path) -> None:
    ik = synthetic_trial(SCHWARTZ, tmp_path / "walk_ik.mot", start=0.81, seed=3)
    ref = load_reference(str(ik))
    assert "planar leg" in ref.event_method and "Zeni heel/toe extremes (walking)" in ref.event_method
    assert ref.gait_type == "walking" and ref.stance_pct[0] == pytest.approx(60.0, abs=3.0)
    assert min(ref.cycles_per_side.values()) >= 4
    # Mapping the whole trial onto one cycle (the old behaviour) gives r far below this.
    assert _r(SCHWARTZ.curves["hip_flexion"], ref.curves["hip_flexion"]) > 0.97
    assert _r(SCHWARTZ.curves["knee_flexion"], ref.curves["knee_flexion"]) > 0.95


def test_planar_leg_strike_at_the_heel_forward_extreme() -> None:
    # Independent route: hip flexion alone (straight knee) puts the heel most forward at the hip-flexion peak.
    t = np.arange(500) / FPS
    hip = 25 * np.cos(2 * np.pi * t / STRIDE_S)
    values = {"hip_flexion": np.stack([hip, hip], 1), "knee_flexion": np.zeros((500, 2))}
    from mm_validate.trial import planar_leg_events

    ev = planar_leg_events(values, 1, FPS)
    assert ev is not None and ev.strikes.tolist() == [110, 220, 330, 440]
    assert sum(PLANAR_LEG) > 1.0


def test_stance_rise_pendulum_vs_spring(tmp_path: Path) -> None:
    # Hand computation: a straight leg swinging 25 deg each way lands at 25 deg hip flexion and stands vertical at
    # mid-stance, so the hip rises by 1 - cos(25 deg) leg lengths.
    t = np.arange(500) / FPS
    hip = 25 * np.cos(2 * np.pi * t / STRIDE_S)
    values = {"hip_flexion": np.stack([hip, hip], 1), "knee_flexion": np.zeros((500, 2))}
    assert planar_stance_rise(values, 0, FPS) == pytest.approx(1 - np.cos(np.radians(25)), abs=2e-3)
    # The published curves: walking vaults over the stance leg, running lands on a leg that then flexes.
    walk = read_sto(synthetic_trial(SCHWARTZ, tmp_path / "walk.mot"))
    run = read_sto(synthetic_trial(BMCRIC, tmp_path / "run.mot", **RUN_TRIAL))
    for tab, lo, hi in ((walk, 0.1, 0.3), (run, -0.03, 0.03)):
        tr = trial_from_sto(tab)
        for side in (0, 1):
            assert lo < planar_stance_rise(tr.values, side, tr.fps) < hi, (tab.path, side)
    assert 0.03 < RUNNING_RISE < 0.1


def test_running_trial_kinematic_events_without_forces(tmp_path: Path) -> None:
    # 12 running strides from 81 % of the cycle, stance 36 %: the angles alone give running and events within a few
    # % of the stride of the force ones (Zeni's toe-off comes ~20 % late in running and made it read as walking).
    ik = synthetic_trial(BMCRIC, tmp_path / "run_ik.mot", forces_path=tmp_path / "grf.mot", **RUN_TRIAL)
    with_forces = load_reference(str(ik), forces=tmp_path / "grf.mot")
    ref = load_reference(str(ik))
    assert with_forces.gait_type == "running" and ref.gait_type == "running"
    assert "peak knee extension (running)" in ref.event_method
    assert ref.cycles_per_side == with_forces.cycles_per_side
    force_tab = read_sto(tmp_path / "grf.mot")
    force = trial_from_sto(read_sto(ik), force_tab).force
    assert force is not None
    kin, _, _ = trial_events(trial_from_sto(read_sto(ik)))
    for i, side in enumerate(("left", "right")):
        fe = gait.events_from_force(force[:, i, 1], FPS, 20.0)
        assert gait.strike_gap_pct(fe, kin[side]) <= 4.0, side
        offs = (gait.Events(strikes=e.offs, offs=e.offs) for e in (fe, kin[side]))
        assert gait.strike_gap_pct(*offs) <= 3.0, side
    assert ref.stance_pct[0] == pytest.approx(with_forces.stance_pct[0], abs=6.0)
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion"):
        assert _r(BMCRIC.curves[q], ref.curves[q]) > 0.96, q


def test_synthetic_walk_against_whole_trial(tmp_path: Path) -> None:
    pytest.importorskip("mm_models", reason="needs the built-in embodiments of mm-models")
    from mm_validate.synthetic import synthetic_walk
    from mm_validate.validate import validate_clip

    ik = synthetic_trial(SCHWARTZ, tmp_path / "walk_ik.mot", forces_path=tmp_path / "grf.mot")
    ref = load_reference(str(ik), forces=tmp_path / "grf.mot")
    report = validate_clip(
        synthetic_walk("myofullbody-nofingers", SCHWARTZ), ref, tmp_path / "v", events="zeni"
    )
    m = report.metrics
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion"):
        assert m[q]["lag_r"] > 0.99, (q, m[q])
        assert m[q]["n_cycles_reference"] == sum(ref.cycles_per_side.values())
    # The synthetic walk repeats one cycle exactly: no variance, so no SPM, and the report says why.
    assert any(n.startswith("SPM not run for") and "knee_flexion" in n for n in report.notes)
    assert "ankle_inversion" not in m  # locked at 5.17 deg in the reference
    assert any(
        "not compared (constant in the reference" in n and "ankle_inversion" in n for n in report.notes
    )
    assert m["gait"]["reference_cycles_left"] >= 4
    html = (tmp_path / "v" / "report.html").read_text()
    assert (
        "ankle_dorsiflexion" in html and "hip_flexion_l/hip_flexion_r (deg) x +1" in html
    )  # conventions table
    assert "http://" not in html and "https://" not in html  # self-contained


def test_spm_finds_the_shifted_half() -> None:
    from mm_validate.analysis import spm_ttest

    rng = np.random.default_rng(1)
    base = np.sin(np.linspace(0, 2 * np.pi, 101))
    ref = base + 0.2 * rng.standard_normal((12, 101))
    sim = base + 0.2 * rng.standard_normal((8, 101))
    sim[:, 60:] += 1.0  # 5 SDs above the reference from 60 % on
    t, tstar, clusters = spm_ttest(sim, ref)
    assert tstar > 2.0 and len(clusters) == 1
    a, b = clusters[0]
    assert 57 <= a <= 61 and b == pytest.approx(100, abs=0.5)
    assert np.all(t[65:] > tstar) and np.all(np.abs(t[:55]) < tstar + 1.5)


def _mot(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.mot"
    p.write_text(text)
    return p


H = "Coordinates\nversion=1\ninDegrees=yes\nendheader\ntime\thip_flexion_r\tknee_angle_r\n"
ROWS = "".join(f"{i / 100:.2f}\t{i}\t{-i}\n" for i in range(6))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("time\thip_flexion_r\n0\t1\n", r"bad.mot: not an OpenSim .mot/.sto file \(no 'endheader'"),
        (H.replace("time\t", "t\t") + ROWS, r"bad.mot: line 5: the first column must be 'time'"),
        (H + ROWS + "0.06\t1\n", r"bad.mot: line 12: 2 values, expected 3"),
        (
            H + ROWS.replace("\t3\t", "\tabc\t"),
            r"bad.mot: line 9: column 'hip_flexion_r': 'abc' is not a number",
        ),
        (H + ROWS + "0.05\t1\t1\n", r"bad.mot: line 12: time 0.05 does not increase"),
        (H.replace("version=1", "nRows=9") + ROWS, r"bad.mot: header field nrows=9 but the file has 6"),
        (H.replace("yes", "maybe") + ROWS, r"bad.mot: header field inDegrees='maybe'"),
        (H + "".join(ROWS.splitlines(True)[:2]), r"bad.mot: only 2 data rows"),
    ],
)
def test_bad_mot_rejected(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ReferenceError, match=message):
        read_sto(_mot(tmp_path, text))


def test_bad_trials_rejected(tmp_path: Path) -> None:
    ik = synthetic_trial(SCHWARTZ, tmp_path / "ik.mot", forces_path=tmp_path / "grf.mot")
    t = read_sto(tmp_path / "grf.mot").col("time")
    write_sto(
        tmp_path / "nogrf.mot", {"time": t, "ground_force_vx": t * 0, "ground_force_vy": t * 0 + 800}, "x"
    )
    with pytest.raises(ReferenceError, match=r"nogrf.mot: no vertical force column for the left foot"):
        load_trial(ik, tmp_path / "nogrf.mot")
    short = {"time": t[:50], "ground_force_vy": t[:50] * 0, "1_ground_force_vy": t[:50] * 0}
    with pytest.raises(ReferenceError, match=r"short.mot: time .* does not cover"):
        load_trial(ik, write_sto(tmp_path / "short.mot", short, "x"))
    flat = {"time": t, "hip_flexion_r": t * 0 + 10, "knee_angle_r": t * 0 + 5, "hip_flexion_l": t * 0,
            "knee_angle_l": t * 0}  # fmt: skip
    with pytest.raises(ReferenceError, match=r"flat.mot: no complete gait cycle found"):
        load_trial(write_sto(tmp_path / "flat.mot", flat, "x"))
    rad = {"time": t, "hip_flexion_r": t * 0 + 200}
    with pytest.raises(ReferenceError, match=r"rad.mot: hip_flexion_r exceeds 180 deg"):
        load_trial(write_sto(tmp_path / "rad.mot", rad, "x"))
    with pytest.raises(ReferenceError, match="external loads"):
        load_reference("schwartz2008-walking-free", forces=tmp_path / "grf.mot")
    (tmp_path / "junk.c3d").write_bytes(b"not a c3d file at all" * 10)
    with pytest.raises(ReferenceError, match=r"junk.c3d: not a readable C3D file"):
        read_c3d(tmp_path / "junk.c3d")


# --- C3D (written with ezc3d, the reader labs use) ---------------------------------------------------------------
def _c3d_points(labels: list[str], points: list[np.ndarray]) -> object:
    """An ``ezc3d.c3d`` at FPS holding the named point trajectories (each (T, 3))."""
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [FPS]
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    data = np.ones((4, len(labels), len(points[0])))
    data[:3] = np.stack(points, axis=0).transpose(2, 0, 1)
    c["data"]["points"] = data
    return c


def _write_c3d(path: Path, *, event_shift_s: float = 0.0, with_events: bool = True) -> Path:
    """Plug-in Gait outputs (angles, hip moment) and heel/toe/pelvis markers of a 5-stride walk from the Schwartz
    means, left half a cycle after right, starting at 20 % of the cycle; Foot Strike / Foot Off events."""

    T = int(5 * STRIDE_S * FPS)
    t = np.arange(T) / FPS
    phase = t / STRIDE_S + 0.2
    labels, points = [], []

    def add(label: str, xyz: np.ndarray) -> None:
        labels.append(label)
        points.append(xyz)

    def curve(q: str, p: np.ndarray) -> np.ndarray:
        c = SCHWARTZ.curves[q]
        return np.interp(100 * (p % 1.0), c.percent, c.mean)

    pelvis = np.stack([1200.0 * t, np.zeros(T), np.full(T, 900.0)], 1)  # mm
    add("LASI", pelvis + [100, 100, 0])
    add("RASI", pelvis + [100, -100, 0])
    add("LPSI", pelvis + [-100, 50, 0])
    add("RPSI", pelvis + [-100, -50, 0])
    events = []
    for side, off in (("R", 0.0), ("L", 0.5)):
        p = phase - off
        hip, knee, ank = curve("hip_flexion", p), curve("knee_flexion", p), curve("ankle_dorsiflexion", p)
        add(
            f"{side}HipAngles",
            np.stack([hip, curve("hip_adduction", p), curve("hip_internal_rotation", p)], 1),
        )
        add(f"{side}KneeAngles", np.stack([knee, 0 * knee, 0 * knee], 1))
        add(f"{side}AnkleAngles", np.stack([ank, 0 * ank, 0 * ank], 1))
        add(f"{side}HipMoment", np.stack([1000 * curve("hip_extension_moment", p), 0 * hip, 0 * hip], 1))
        thigh = np.radians(hip)
        shank = thigh - np.radians(knee)
        heel_x = 1000 * (0.43 * np.sin(thigh) + 0.43 * np.sin(shank))
        toe_x = heel_x + 180 * np.cos(shank - np.radians(ank))
        add(f"{side}HEE", pelvis + np.stack([heel_x, 0 * t, -800 + 0 * t], 1))
        add(f"{side}TOE", pelvis + np.stack([toe_x, 0 * t, -800 + 0 * t], 1))
        ctx = "Right" if side == "R" else "Left"
        for k in range(-1, 7):
            for label, frac in (("Foot Strike", 0.0), ("Foot Off", 0.59)):
                ts = (k + off + frac - 0.2) * STRIDE_S + event_shift_s
                if 0 <= ts < t[-1]:
                    events.append((ctx, label, ts))
    c = _c3d_points(labels, points)
    c.add_parameter("POINT", "MOMENT_UNITS", ["Nmm/kg"])
    if with_events:
        c.add_parameter("EVENT", "USED", [len(events)])
        c.add_parameter("EVENT", "CONTEXTS", [e[0] for e in events])
        c.add_parameter("EVENT", "LABELS", [e[1] for e in events])
        c.add_parameter("EVENT", "TIMES", np.array([[0.0] * len(events), [e[2] for e in events]]))
    c.write(str(path))
    return path


def test_c3d_trial(tmp_path: Path) -> None:
    path = _write_c3d(tmp_path / "walk.c3d")
    trial = read_c3d(path)
    assert trial.fps == FPS and trial.markers is not None and trial.events is not None
    # Right foot strikes at phase 0 -> t = 0.8 * 1.1 s + k * 1.1 s.
    assert trial.events["right"].strikes.tolist() == [88, 198, 308, 418, 528]
    ref = load_reference(str(path))
    assert ref.event_method.startswith("C3D events")
    assert ref.cycles_per_side == {"right": 4, "left": 4}
    for q in ("hip_flexion", "knee_flexion", "ankle_dorsiflexion", "hip_adduction"):
        assert _r(SCHWARTZ.curves[q], ref.curves[q]) > 0.999, q
    mom = ref.curves["hip_extension_moment"]
    assert mom.unit == "N*m/kg"
    want = SCHWARTZ.curves["hip_extension_moment"]
    got = np.interp(want.percent, mom.percent, mom.mean)
    assert np.median(np.abs(got - want.mean)) < 0.01  # Nmm/kg -> N*m/kg (resampling blunts the 2 % peak only)
    assert not [n for n in ref.notes if "disagree" in n]  # markers (Zeni) agree with the stored events
    # Events shifted by 0.2 s (18 % of the stride): the marker cross-check catches it.
    shifted = load_reference(str(_write_c3d(tmp_path / "shifted.c3d", event_shift_s=0.2)))
    assert any("disagree" in n and "Zeni" in n for n in shifted.notes)
    # Without stored events the markers give them.
    assert (
        "heel/toe markers"
        in load_reference(str(_write_c3d(tmp_path / "ne.c3d", with_events=False))).event_method
    )


def test_c3d_cycles_normalised_between_strikes(tmp_path: Path) -> None:
    ref = load_trial(_write_c3d(tmp_path / "w.c3d"))
    knee = ref.curves["knee_flexion"]
    # Each cycle starts at a foot strike: every cycle's first point is the Schwartz value at 0 %.
    np.testing.assert_allclose(knee.cycles[:, 0], SCHWARTZ.curves["knee_flexion"].mean[0], atol=0.5)
    assert knee.cycles.shape[1] == gait.CYCLE_POINTS


def _write_plates_c3d(path: Path) -> Path:
    """Plug-in Gait angles (no markers, no events) of a 5-stride walk plus two force plates, one per treadmill
    belt: plate 1 carries the LEFT foot, plate 2 the right, vertical force during the first 59 % of each cycle,
    sampled at 1000 Hz (10 analog samples per point frame)."""

    T, ratio = int(5 * STRIDE_S * FPS), 10
    t = np.arange(T) / FPS
    ta = np.arange(T * ratio) / (FPS * ratio)
    labels, points = [], []
    analogs = np.zeros((1, 12, T * ratio))
    for side, off, plate in (("R", 0.0, 1), ("L", 0.5, 0)):
        p = (t / STRIDE_S + 0.2 - off) % 1.0
        for q, name in (("hip_flexion", "HipAngles"), ("knee_flexion", "KneeAngles")):
            c = SCHWARTZ.curves[q]
            v = np.interp(100 * p, c.percent, c.mean)
            labels.append(f"{side}{name}")
            points.append(np.stack([v, 0 * v, 0 * v], 1))
        pa = (ta / STRIDE_S + 0.2 - off) % 1.0
        analogs[0, 6 * plate + 2] = np.where(
            pa < 0.59, -700.0 * np.sin(np.pi * pa / 0.59) - 50, 0.0
        )  # on the plate
    c = _c3d_points(labels, points)
    c["parameters"]["ANALOG"]["RATE"]["value"] = [FPS * ratio]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = [
        f"{k}{i}" for i in (1, 2) for k in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")
    ]
    c["parameters"]["ANALOG"]["SCALE"]["value"] = [1.0] * 12
    c["parameters"]["ANALOG"]["OFFSET"]["value"] = [0] * 12
    c["parameters"]["ANALOG"]["UNITS"]["value"] = (["N"] * 3 + ["Nmm"] * 3) * 2
    c["data"]["analogs"] = analogs
    fp = c["parameters"]["FORCE_PLATFORM"]
    fp["USED"]["value"] = [2]
    fp["TYPE"]["value"] = [2, 2]
    fp["ZERO"]["value"] = [1, 0]
    corners = np.zeros((3, 4, 2))
    corners[:, :, 0] = [[0, 500, 500, 0], [0, 0, 2000, 2000], [0, 0, 0, 0]]
    corners[:, :, 1] = corners[:, :, 0] + np.array([[600], [0], [0]])
    fp["CORNERS"]["value"] = corners
    fp["ORIGIN"]["value"] = np.zeros((3, 2))
    fp["CHANNEL"]["value"] = np.arange(1, 13).reshape(2, 6).T
    c.write(str(path))
    return path


def test_c3d_force_plates_give_the_events(tmp_path: Path) -> None:
    trial = read_c3d(_write_plates_c3d(tmp_path / "belts.c3d"))
    assert trial.plates is not None and len(trial.plates) == 2
    assert trial.plates[1][:, 2].max() == pytest.approx(750, abs=5)  # sign flipped to the force on the foot
    ref = load_trial(tmp_path / "belts.c3d")
    assert ref.event_method.startswith("force")
    assert any("force plates 1 (left) and 2 (right)" in n for n in ref.notes)
    assert ref.stance_pct[0] == pytest.approx(59.0, abs=1.0)  # exact toe-offs from the plates
    assert ref.cycles_per_side == {"right": 4, "left": 4}
    assert _r(SCHWARTZ.curves["knee_flexion"], ref.curves["knee_flexion"]) > 0.999
    assert ref.curves["grf_vertical"].mean.max() > 0.9 and ref.gait_type == "walking"
