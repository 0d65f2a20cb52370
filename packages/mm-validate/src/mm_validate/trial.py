"""Reference trials as labs hand them over: OpenSim ``.mot``/``.sto`` and C3D, cut into gait cycles per leg.

A trial of any length, starting anywhere in the cycle, becomes a :class:`~mm_validate.reference.Reference`: gait
events are found in the trial's own data (vertical ground reaction force when it is given, else the C3D's own
events, else kinematics), every complete cycle of each leg is time-normalised, and the curves are the mean ± SD over
all cycles of both legs (each cycle kept for statistical parametric mapping). Readers reject a malformed file with
its name and the line or field at fault.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mm_validate import gait
from mm_validate.quantities import QUANTITIES, SIDES
from mm_validate.reference_types import Reference, ReferenceCurve, ReferenceError

#: Vertical GRF above this (N) is foot contact (the usual force-plate threshold for gait events).
FORCE_THRESHOLD_N = 20.0
#: Segment lengths (m) of the planar leg used for kinematic events from joint angles alone; only their ratios
#: matter (thigh, shank, foot of an adult).
PLANAR_LEG = (0.43, 0.43, 0.18)
#: A planar leg's hip rising less than this (leg lengths) over the ankle from foot strike to mid-stance is running
#: (see :func:`planar_stance_rise`: walking ~+0.15, running ~-0.01).
RUNNING_RISE = 0.06
_SIDE_TAG = {"left": "l", "right": "r"}

# OpenSim coordinate (Gait2354 / Gait2392 / Rajagopal names) -> (clinical quantity, sign), per side.
MOT_COORDS = {
    "hip_flexion": ("hip_flexion", 1.0),
    "hip_adduction": ("hip_adduction", 1.0),
    "hip_rotation": ("hip_internal_rotation", 1.0),
    "knee_angle": ("knee_flexion", 1.0),
    "ankle_angle": ("ankle_dorsiflexion", 1.0),
    "subtalar_angle": ("ankle_inversion", 1.0),
}
# Pelvis coordinates: one column for both sides; obliquity and rotation are mirrored for the left side.
MOT_PELVIS = {
    "pelvis_tilt": ("pelvis_anterior_tilt", -1.0),
    "pelvis_list": ("pelvis_obliquity_up", 1.0),
    "pelvis_rotation": ("pelvis_internal_rotation", 1.0),
}
# Plug-in Gait model outputs (C3D points): point name -> ((component, quantity, sign), ...). X = sagittal.
PIG_POINTS = {
    "HipAngles": ((0, "hip_flexion", 1.0), (1, "hip_adduction", 1.0), (2, "hip_internal_rotation", 1.0)),
    "KneeAngles": ((0, "knee_flexion", 1.0),),
    "AnkleAngles": ((0, "ankle_dorsiflexion", 1.0),),
    "PelvisAngles": (
        (0, "pelvis_anterior_tilt", 1.0),
        (1, "pelvis_obliquity_up", 1.0),
        (2, "pelvis_internal_rotation", 1.0),
    ),
    "HipMoment": ((0, "hip_extension_moment", 1.0),),
    "KneeMoment": ((0, "knee_extension_moment", 1.0),),
    "AnkleMoment": ((0, "ankle_plantarflexion_moment", 1.0),),
}
PIG_MARKERS = {"heel": "HEE", "toe": "TOE"}
PIG_PELVIS = ("LASI", "RASI", "LPSI", "RPSI", "SACR")


@dataclass(frozen=True, kw_only=True)
class Table:
    """An OpenSim storage file (``.mot``/``.sto``): header and a numeric table with a time column."""

    path: Path
    """The file read."""
    columns: list[str]
    """Column labels, ``time`` first."""
    data: np.ndarray
    """data: the rows (T, C)."""
    in_degrees: bool
    """Rotational coordinates are in degrees (header ``inDegrees=yes``)."""

    def has(self, name: str) -> bool:
        return name in self.columns

    def col(self, name: str) -> np.ndarray:
        return self.data[:, self.columns.index(name)]


def read_sto(path: str | Path) -> Table:
    """Read an OpenSim ``.mot``/``.sto`` (header lines, ``endheader``, a label line starting with ``time``, rows).

    Every error names the file and the line or header field at fault.
    """
    p = Path(path)
    if not p.is_file():
        raise ReferenceError(f"{p}: no such OpenSim .mot/.sto file")
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        end = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")
    except StopIteration:
        raise ReferenceError(
            f"{p}: not an OpenSim .mot/.sto file (no 'endheader' line); export it from OpenSim or add the header"
        ) from None
    header = {}
    for ln in lines[:end]:
        if "=" in ln:
            k, v = ln.split("=", 1)
            header[k.strip().lower()] = v.strip()
    deg = header.get("indegrees", "yes").lower()
    if deg not in ("yes", "no"):
        raise ReferenceError(f"{p}: header field inDegrees={header['indegrees']!r} must be 'yes' or 'no'")
    label_line = next((i for i in range(end + 1, len(lines)) if lines[i].strip()), None)
    if label_line is None:
        raise ReferenceError(f"{p}: no column labels after 'endheader' (line {end + 1})")
    cols = lines[label_line].split()
    if cols[0].lower() != "time":
        raise ReferenceError(f"{p}: line {label_line + 1}: the first column must be 'time', got {cols[0]!r}")
    data = _sto_rows(p, lines, label_line + 1, cols)
    for key, n in (("nrows", len(data)), ("ncolumns", len(cols))):
        if key in header and header[key].isdigit() and int(header[key]) != n:
            raise ReferenceError(f"{p}: header field {key}={header[key]} but the file has {n}")
    if len(data) < 5:
        raise ReferenceError(f"{p}: only {len(data)} data rows; a trial needs at least 5")
    return Table(path=p, columns=["time", *cols[1:]], data=data, in_degrees=deg == "yes")


def _sto_rows(p: Path, lines: list[str], first: int, cols: list[str]) -> np.ndarray:
    """The numeric rows (T, C) of ``lines[first:]``: one finite number per column, time increasing."""
    rows: list[list[float]] = []
    for i in range(first, len(lines)):
        vals = lines[i].split()
        if not vals:
            continue
        if len(vals) != len(cols):
            raise ReferenceError(
                f"{p}: line {i + 1}: {len(vals)} values, expected {len(cols)} (one per column label)"
            )
        try:
            rows.append([float(v) for v in vals])
        except ValueError:
            j = next(j for j, v in enumerate(vals) if not _is_float(v))
            raise ReferenceError(
                f"{p}: line {i + 1}: column {cols[j]!r}: {vals[j]!r} is not a number"
            ) from None
        if not all(math.isfinite(v) for v in rows[-1]):
            j = next(j for j, v in enumerate(rows[-1]) if not math.isfinite(v))
            raise ReferenceError(f"{p}: line {i + 1}: column {cols[j]!r} is not finite ({vals[j]})")
        if len(rows) > 1 and rows[-1][0] <= rows[-2][0]:
            raise ReferenceError(
                f"{p}: line {i + 1}: time {rows[-1][0]} does not increase (previous row {rows[-2][0]})"
            )
    return np.array(rows, dtype=float).reshape(-1, len(cols))


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class Trial:
    """A lab trial on a uniform time base, per side (left, right)."""

    source: str
    """File(s) read."""
    fps: float
    """Frames per second (the trial is resampled onto a uniform grid when its time steps vary)."""
    values: dict[str, np.ndarray]
    """Quantity -> values in the reference units (T, 2), NaN for a side the file lacks."""
    conventions: dict[str, str]
    """Quantity -> where it came from and how it was converted (for the report)."""
    force: np.ndarray | None = None
    """force: ground reaction force on each foot, N, [anterior, vertical] (T, 2, 2); None without forces."""
    markers: dict[str, np.ndarray] | None = None
    """``pelvis``, ``heel_left``, ``toe_right``... -> positions, z up (T, 3); None without markers."""
    events: dict[str, gait.Events] | None = None
    """Foot strikes and offs per side stored in the file (C3D EVENT group); None when absent."""
    plates: list[np.ndarray] | None = None
    """C3D force plates: lab-frame force on the foot, N, per point frame (T, 3) each; not yet assigned to a side."""
    notes: list[str] = field(default_factory=list)
    """Caveats found while reading."""


def _uniform(t: np.ndarray, x: np.ndarray, fps: float) -> np.ndarray:
    grid = t[0] + np.arange(int(math.floor((t[-1] - t[0]) * fps + 1e-6)) + 1) / fps
    return np.stack([np.interp(grid, t, x[:, j]) for j in range(x.shape[1])], axis=1)


def _time_base(tab: Table) -> tuple[float, np.ndarray]:
    t = tab.col("time")
    dt = np.diff(t)
    fps = 1.0 / float(np.median(dt))
    data = tab.data if np.ptp(dt) <= 0.01 * np.median(dt) else _uniform(t, tab.data, fps)
    return fps, data


def trial_from_sto(angles: Table | None, forces: Table | None = None) -> Trial:
    """A trial from an OpenSim coordinates file and/or an external-loads file (``ground_force_vx/vy/vz``)."""
    if angles is None and forces is None:
        raise ValueError("trial_from_sto needs a coordinates table, a forces table or both")
    base = angles if angles is not None else forces
    assert base is not None
    fps, data = _time_base(base)
    t = data[:, 0]
    values: dict[str, np.ndarray] = {}
    conventions: dict[str, str] = {}
    notes: list[str] = []
    if angles is not None:
        tab = Table(path=angles.path, columns=angles.columns, data=data, in_degrees=angles.in_degrees)
        values, conventions = _coordinate_values(tab)
        if "lumbar_extension" in tab.columns:
            notes.append(
                "lumbar_extension is not compared: it is the trunk relative to the pelvis, the reference "
                "quantity trunk_anterior_tilt is absolute"
            )
    return Trial(
        source=", ".join(str(x.path) for x in (angles, forces) if x is not None),
        fps=fps,
        values=values,
        conventions=conventions,
        force=_grf_columns(forces, t) if forces is not None else None,
        notes=notes,
    )


def _coordinate_values(tab: Table) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Quantity -> values (deg, (T, 2); NaN for a side the file lacks) of the OpenSim coordinates of ``tab``
    (``MOT_COORDS`` per side, ``MOT_PELVIS`` for both), and quantity -> the columns and conversion used."""
    scale = 1.0 if tab.in_degrees else 180.0 / math.pi
    unit = "deg" if tab.in_degrees else "rad, converted to deg"
    values: dict[str, np.ndarray] = {}
    conventions: dict[str, str] = {}
    for coord, (q, sign) in MOT_COORDS.items():
        cols = {s: f"{coord}_{_SIDE_TAG[s]}" for s in SIDES}
        if not any(tab.has(c) for c in cols.values()):
            continue
        v = np.full((len(tab.data), 2), np.nan)
        for i, s in enumerate(SIDES):
            if tab.has(cols[s]):
                v[:, i] = tab.col(cols[s]) * scale
        s_used = sign
        if coord == "knee_angle" and np.nanmean(v) < 0:
            s_used = -1.0  # Gait2354/2392 knee: flexion is negative
        values[q] = s_used * v
        conventions[q] = f"{'/'.join(c for c in cols.values() if tab.has(c))} ({unit}) x {s_used:+g}" + (
            " (flexion negative in the file)" if s_used < 0 else ""
        )
    for coord, (q, sign) in MOT_PELVIS.items():
        if tab.has(coord):
            v = sign * tab.col(coord) * scale
            mirror = -1.0 if coord != "pelvis_tilt" else 1.0
            values[q] = np.stack([mirror * v, v], axis=1)
            conventions[q] = f"{coord} ({unit}) x {sign:+g}" + (", left side mirrored" if mirror < 0 else "")
    for q, v in values.items():
        if np.nanmax(np.abs(v)) > 180:
            raise ReferenceError(
                f"{tab.path}: {conventions[q].split(' ')[0]} exceeds 180 deg; is the header's inDegrees right?"
            )
    if not values:
        want = [f"{c}_r" for c in MOT_COORDS] + list(MOT_PELVIS)
        raise ReferenceError(f"{tab.path}: no known OpenSim coordinate columns; expected some of {want}")
    return values, conventions


def _grf_columns(tab: Table, t: np.ndarray) -> np.ndarray:
    """Per-foot [anterior (x), vertical (y)] GRF, N, on the time base ``t`` (T, 2, 2) from an external-loads table.

    Sides come from the labels: ``r_ground_force_vy`` / ``ground_force_r_vy`` / ``right_ground_force_vy`` (and
    ``l``/``left``), or the OpenSim example convention ``ground_force_vy`` (right) and ``1_ground_force_vy`` or
    ``l_ground_force_vy`` (left).
    """
    names = {
        "right": ("r_ground_force_v{}", "ground_force_r_v{}", "right_ground_force_v{}", "ground_force_v{}"),
        "left": ("l_ground_force_v{}", "ground_force_l_v{}", "left_ground_force_v{}", "1_ground_force_v{}"),
    }
    tt = tab.col("time")
    if t[0] < tt[0] - 1e-6 or t[-1] > tt[-1] + 1e-6:
        raise ReferenceError(
            f"{tab.path}: time {tt[0]:g}-{tt[-1]:g} s does not cover the coordinates' {t[0]:g}-{t[-1]:g} s"
        )
    out = np.zeros((len(t), 2, 2))
    for i, s in enumerate(SIDES):
        label = next((n for n in names[s] if tab.has(n.format("y"))), None)
        if label is None:
            raise ReferenceError(
                f"{tab.path}: no vertical force column for the {s} foot; expected one of "
                f"{[n.format('y') for n in names[s]]} (OpenSim external loads: y is up)"
            )
        for k, axis in enumerate(("x", "y")):
            col = label.format(axis)
            if not tab.has(col):
                raise ReferenceError(f"{tab.path}: column {col!r} missing (beside {label.format('y')!r})")
            out[:, i, k] = np.interp(t, tt, tab.col(col))
    if np.max(out[..., 1]) < FORCE_THRESHOLD_N:
        raise ReferenceError(
            f"{tab.path}: the vertical force never exceeds {FORCE_THRESHOLD_N:g} N; are the columns in newtons?"
        )
    return out


def read_c3d(path: str | Path) -> Trial:
    """A C3D trial (read with ezc3d): Plug-in Gait angle/moment points, heel/toe/pelvis markers, EVENT group."""
    p = Path(path)
    if not p.is_file():
        raise ReferenceError(f"{p}: no such C3D file")
    c, notes = _open_c3d(p)
    point = c["parameters"]["POINT"]
    rate = float(c["header"]["points"]["frame_rate"])
    if not rate > 0:
        raise ReferenceError(
            f"{p}: POINT:RATE / header frame rate is {rate}; the file has no point data rate"
        )
    labels = [lb.split(":")[-1].strip() for lb in point["LABELS"]["value"]]
    pts = np.asarray(c["data"]["points"], dtype=float)  # (4, n, T)
    if pts.ndim != 3 or pts.shape[1] != len(labels) or pts.shape[2] < 5:
        raise ReferenceError(
            f"{p}: POINT:LABELS names {len(labels)} points but the data hold shape {pts.shape}; need >= 5 frames"
        )
    T = pts.shape[2]
    named = {lb: pts[:3, labels.index(lb), :].T for lb in dict.fromkeys(labels)}  # label -> (T, 3)
    values, conventions = _pig_values(named, _c3d_param(point, "MOMENT_UNITS") or "Nmm/kg", p, T)
    markers = _pig_markers(named)
    events = _c3d_events(c, p, rate, T)
    plates = _c3d_plates(c, T)
    if not values and len(markers) < 5:
        raise ReferenceError(
            f"{p}: no Plug-in Gait angle points (LHipAngles, LKneeAngles, ...) and no heel/toe/pelvis markers "
            f"(LHEE, LTOE, LASI, ...); found points {labels[:20]}"
        )
    return Trial(
        source=str(p),
        fps=rate,
        values=values,
        conventions=conventions,
        markers=markers if len(markers) == 5 else None,
        events=events,
        plates=plates or None,
        notes=notes,
    )


def _open_c3d(p: Path) -> tuple[dict, list[str]]:
    """The ezc3d file with its force plates, else without them (and a note why)."""
    import ezc3d

    try:
        return ezc3d.c3d(str(p), extract_forceplat_data=True), []
    except Exception as e:  # noqa: BLE001 - ezc3d raises plain RuntimeError/IOError on malformed files
        try:
            c = ezc3d.c3d(str(p))
        except Exception:  # noqa: BLE001
            raise ReferenceError(f"{p}: not a readable C3D file ({e})") from e
        return c, [f"force plates not read ({e}): check the FORCE_PLATFORM parameters"]


def _pig_values(
    named: dict[str, np.ndarray], moment_unit: str, p: Path, T: int
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Quantity -> values (T, 2) of the Plug-in Gait angle and moment points (``PIG_POINTS``), moments converted
    from ``moment_unit`` to N*m/kg, and quantity -> where it came from."""
    if moment_unit.replace(" ", "").lower() not in ("nmm/kg", "nm/kg"):
        raise ReferenceError(f"{p}: POINT:MOMENT_UNITS {moment_unit!r} is not Nmm/kg or Nm/kg")
    moment_scale = 1e-3 if moment_unit.replace(" ", "").lower() == "nmm/kg" else 1.0
    values: dict[str, np.ndarray] = {}
    conventions: dict[str, str] = {}
    for base, comps in PIG_POINTS.items():
        sides = {s: named.get(f"{s[0].upper()}{base}") for s in SIDES}
        if all(v is None for v in sides.values()):
            continue
        scale = moment_scale if base.endswith("Moment") else 1.0
        for k, q, sign in comps:
            v = np.full((T, 2), np.nan)
            for i, s in enumerate(SIDES):
                if sides[s] is not None:
                    v[:, i] = sign * scale * sides[s][:, k]
            if base.endswith("Angles") and np.nanmax(np.abs(v)) > 180:
                raise ReferenceError(
                    f"{p}: point {base} component {k} exceeds 180 deg; are the angles in degrees?"
                )
            values[q] = v
            unit = (
                f"{moment_unit} -> N*m/kg"
                if scale != 1.0
                else ("deg" if base.endswith("Angles") else "N*m/kg")
            )
            what = (
                "internal extensor/plantarflexor positive assumed" if base.endswith("Moment") else "PiG sign"
            )
            conventions[q] = f"Plug-in Gait L/R{base} component {'XYZ'[k]} ({unit}; {what})"
    return values, conventions


def _pig_markers(named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``pelvis`` (mean of the ASIS/PSIS/sacrum markers present), ``heel_left``, ``toe_right``, ... (T, 3)."""
    markers = {}
    pelvis = [named[m] for m in PIG_PELVIS if m in named]
    if pelvis:
        markers["pelvis"] = np.nanmean(np.stack(pelvis), axis=0)
    for s in SIDES:
        for part, code in PIG_MARKERS.items():
            m = named.get(f"{s[0].upper()}{code}")
            if m is not None:
                markers[f"{part}_{s}"] = m
    return markers


def _c3d_plates(c: dict, T: int) -> list[np.ndarray]:
    """Each force plate's lab-frame force (T, 3), N, on the point frames (analog samples averaged per frame);
    the sign is chosen so that the vertical (z) force of a stance is positive (force on the foot)."""
    try:
        platforms = c["data"]["platform"]
    except KeyError:
        return []
    out = []
    for pf in platforms:
        f = np.asarray(pf["force"], dtype=float).T  # (n_analog, 3)
        if len(f) < T or not np.any(np.abs(f[:, 2]) > FORCE_THRESHOLD_N):
            continue
        k = len(f) // T
        f = f[: T * k].reshape(T, k, 3).mean(axis=1)
        big = np.abs(f[:, 2]) > FORCE_THRESHOLD_N
        out.append(f if np.median(f[big, 2]) > 0 else -f)
    return out


def _c3d_param(group: dict, name: str) -> str | None:
    v = group.get(name, {}).get("value") if isinstance(group.get(name), dict) else None
    return str(v[0]).strip() if v is not None and len(v) else None


def _c3d_events(c: dict, p: Path, rate: float, T: int) -> dict[str, gait.Events] | None:
    """Foot Strike / Foot Off per side from the EVENT group (times in s, Vicon's convention), as frame indices."""
    ev = c["parameters"].get("EVENT")
    if not ev or "LABELS" not in ev or "TIMES" not in ev:
        return None
    labels = [str(x).strip().lower() for x in ev["LABELS"]["value"]]
    contexts = [str(x).strip().lower() for x in ev.get("CONTEXTS", {}).get("value", [])]
    times = np.asarray(ev["TIMES"]["value"], dtype=float)
    if times.ndim != 2 or times.shape[1] != len(labels) or len(contexts) != len(labels):
        raise ReferenceError(
            f"{p}: EVENT:TIMES {times.shape}, EVENT:LABELS ({len(labels)}) and EVENT:CONTEXTS ({len(contexts)}) "
            "do not match"
        )
    first = int(c["header"]["points"]["first_frame"])
    out = {}
    for s in SIDES:
        frames = {}
        for kind in ("foot strike", "foot off"):
            sec = times[0] * 60.0 + times[1]
            pick = [
                j for j, (lb, cx) in enumerate(zip(labels, contexts, strict=True)) if lb == kind and cx == s
            ]
            idx = np.sort(np.round(sec[pick] * rate).astype(int) - first)
            frames[kind] = idx[(idx >= 0) & (idx < T)]
        out[s] = gait.Events(strikes=frames["foot strike"], offs=frames["foot off"])
    return out if any(len(e.strikes) for e in out.values()) else None


def _planar_leg(values: dict[str, np.ndarray], side: int) -> tuple[np.ndarray, ...] | None:
    """Heel (ankle joint) and toe forward of the hip, hip height above the ankle, and knee flexion (T,) each, of a
    planar leg (:data:`PLANAR_LEG`) posed by hip flexion, knee flexion and ankle dorsiflexion (deg); None when hip
    or knee flexion is missing."""
    hip, knee = values.get("hip_flexion"), values.get("knee_flexion")
    if hip is None or knee is None or np.isnan(hip[:, side]).any() or np.isnan(knee[:, side]).any():
        return None
    ankle = values.get("ankle_dorsiflexion")
    dors = np.zeros(len(hip)) if ankle is None or np.isnan(ankle[:, side]).any() else ankle[:, side]
    lt, ls, lf = PLANAR_LEG
    thigh = np.radians(hip[:, side])
    shank = thigh - np.radians(knee[:, side])
    heel_x = lt * np.sin(thigh) + ls * np.sin(shank)
    toe_x = heel_x + lf * np.cos(shank - np.radians(dors))
    height = lt * np.cos(thigh) + ls * np.cos(shank)
    return heel_x, toe_x, height, knee[:, side]


def _lowpass(x: np.ndarray, fps: float, cutoff_hz: float = 8.0) -> np.ndarray:
    """2nd-order Butterworth low-pass run forward and back (zero lag, as gait labs filter kinematics); unchanged
    when too short."""
    from scipy.signal import butter, filtfilt

    if cutoff_hz >= 0.5 * fps or len(x) < 16:
        return x
    b, a = butter(2, cutoff_hz / (0.5 * fps))
    return filtfilt(b, a, x)


def _zeni(heel_x: np.ndarray, toe_x: np.ndarray, fps: float) -> gait.Events:
    zero = np.zeros((len(heel_x), 2))
    heel, toe = np.column_stack([heel_x, zero]), np.column_stack([toe_x, zero])
    prog = np.tile([1.0, 0.0, 0.0], (len(heel_x), 1))
    return gait.events_from_kinematics(heel, toe, np.zeros_like(heel), prog, fps)


def _midstance(heel_x: np.ndarray, strike: int, stop: int) -> int | None:
    """First frame after ``strike`` (before ``stop``) with the ankle under or behind the hip."""
    behind = np.flatnonzero(heel_x[strike:stop] <= 0.0)
    return strike + int(behind[0]) if len(behind) else None


def planar_stance_rise(values: dict[str, np.ndarray], side: int, fps: float) -> float:
    """Median rise of the hip over the ankle from foot strike to mid-stance (ankle under the hip), in leg lengths
    (thigh + shank); NaN when it cannot be measured. Walking vaults over a straight stance leg (inverted pendulum:
    the hip rises, about +0.15 in Schwartz 2008 free walking); running lands on a leg that then flexes (spring-mass:
    no rise, -0.01 in BMC-RIC running)."""
    leg = _planar_leg(values, side)
    if leg is None:
        return math.nan
    heel_x, toe_x, height, _ = leg
    ev = _zeni(heel_x, toe_x, fps)
    rise = []
    for s0, s1 in zip(ev.strikes[:-1], ev.strikes[1:], strict=True):
        mid = _midstance(heel_x, int(s0), int(s1))
        if mid is not None:
            rise.append(height[mid] - height[s0])
    return float(np.median(rise) / sum(PLANAR_LEG[:2])) if rise else math.nan


def planar_leg_events(
    values: dict[str, np.ndarray], side: int, fps: float, running: bool = False
) -> gait.Events | None:
    """Events of a planar leg built from hip flexion, knee flexion and ankle dorsiflexion (deg).

    Walking: Zeni et al. 2008, foot strike where the heel (ankle joint) is most anterior of the hip, toe-off where
    the toe is most posterior. ``running``: the knee (low-passed at 8 Hz) instead, toe-off at its peak extension
    between mid-stance and Zeni's toe-off (Fellin et al. 2010), foot strike at its peak extension between Zeni's
    strike and mid-stance. In running the foot keeps moving back after it leaves the ground and is pulled back
    before it lands, so Zeni's toe-off comes ~20 % of the stride late and its strike ~4 % early (on the BMC-RIC
    curves; the knee gives +1.4 % and -2.8 %). None when hip or knee flexion is missing.
    """
    leg = _planar_leg(values, side)
    if leg is None:
        return None
    heel_x, toe_x, _, knee = leg
    ev = _zeni(heel_x, toe_x, fps)
    if not running:
        return ev
    knee = _lowpass(knee, fps)
    strikes, offs = [], []
    for s0 in ev.strikes:
        later = ev.offs[ev.offs > s0]
        stop = int(later[0]) if len(later) else len(knee)
        mid = _midstance(heel_x, int(s0), stop)
        if mid is None:
            continue
        strikes.append(int(s0) + int(np.argmin(knee[s0 : mid + 1])))
        if stop - mid > 1:
            offs.append(mid + int(np.argmin(knee[mid:stop])))
    return gait.Events(strikes=np.array(strikes, dtype=int), offs=np.array(offs, dtype=int))


def _marker_events(markers: dict[str, np.ndarray], side: str, fps: float) -> gait.Events:
    pelvis = markers["pelvis"]
    fallback = markers[f"toe_{side}"].mean(axis=0) - markers[f"heel_{side}"].mean(axis=0)
    fallback[2] = 0.0
    fallback = fallback / max(np.linalg.norm(fallback), 1e-9)
    prog = gait.progression(pelvis / 1000.0, fps, fallback, ((0, len(pelvis)),))
    return gait.events_from_kinematics(markers[f"heel_{side}"], markers[f"toe_{side}"], pelvis, prog, fps)


def trial_events(trial: Trial) -> tuple[dict[str, gait.Events], str, list[str]]:
    """Events per side from the trial's own data, the method's name, and cross-check warnings."""
    candidates: list[tuple[str, dict[str, gait.Events]]] = []
    if trial.force is not None:
        candidates.append(
            (
                f"force (vertical GRF > {FORCE_THRESHOLD_N:g} N)",
                {
                    s: gait.events_from_force(trial.force[:, i, 1], trial.fps, FORCE_THRESHOLD_N)
                    for i, s in enumerate(SIDES)
                },
            )
        )
    if trial.events is not None:
        candidates.append(("C3D events (Foot Strike / Foot Off)", trial.events))
    if trial.markers is not None:
        candidates.append(
            (
                "kinematics (Zeni: heel/toe markers)",
                {s: _marker_events(trial.markers, s, trial.fps) for s in SIDES},
            )
        )
    rise = [planar_stance_rise(trial.values, i, trial.fps) for i in range(len(SIDES))]
    running = bool(np.nanmedian(rise) < RUNNING_RISE) if not all(map(math.isnan, rise)) else False
    planar = {s: planar_leg_events(trial.values, i, trial.fps, running) for i, s in enumerate(SIDES)}
    if all(e is not None for e in planar.values()):
        how = (
            "foot strike and toe-off at peak knee extension (running)"
            if running
            else "Zeni heel/toe extremes (walking)"
        )
        name = f"kinematics (planar leg from hip/knee/ankle angles: {how})"
        candidates.append((name, planar))  # type: ignore[arg-type]
    if not candidates:
        raise ReferenceError(
            f"{trial.source}: no way to find gait events: give vertical ground reaction forces (an external-loads "
            ".mot), C3D events or heel/toe markers, or both legs' hip and knee flexion"
        )
    method, events = candidates[0]
    warnings = []
    for other, ev in candidates[1:]:
        gaps = [gait.strike_gap_pct(events[s], ev[s]) for s in SIDES]
        gaps = [g for g in gaps if not math.isnan(g)]
        if gaps and max(gaps) > gait.EVENT_TOLERANCE_PCT:
            warnings.append(
                f"event methods disagree on the reference trial: {method} vs {other} foot strikes differ by "
                f"{max(gaps):.1f} % of the stride (median); the cycles use {method}"
            )
    return events, method, warnings


def _assign_plates(trial: Trial) -> tuple[Trial, list[str]]:
    """Give the two force plates with the most foot strikes (one per belt of a split-belt treadmill, or long
    walkway plates) to the left and right foot, matching their strikes with the trial's other events."""
    assert trial.plates is not None
    ev = [gait.events_from_force(f[:, 2], trial.fps, FORCE_THRESHOLD_N) for f in trial.plates]
    order = sorted(range(len(ev)), key=lambda i: -len(ev[i].strikes))[:2]
    if len(order) < 2 or len(ev[order[1]].strikes) < 2:
        return trial, [
            "force plates: fewer than two plates with two foot strikes each (overground plates catch single "
            "steps), so the events come from the other data"
        ]
    ref, method, _ = trial_events(replace(trial, plates=None))
    a, b = order
    straight = sum(gait.strike_gap_pct(ev[i], ref[s]) for i, s in ((a, "left"), (b, "right")))
    crossed = sum(gait.strike_gap_pct(ev[i], ref[s]) for i, s in ((a, "right"), (b, "left")))
    left, right = (a, b) if not straight > crossed else (b, a)
    force = np.zeros((len(trial.plates[0]), 2, 2))
    for i, plate in enumerate((left, right)):
        f = trial.plates[plate]
        horizontal = 0 if np.var(f[:, 0]) >= np.var(f[:, 1]) else 1
        force[:, i] = f[:, [horizontal, 2]]
    return replace(trial, force=force), [
        f"force plates {left + 1} (left) and {right + 1} (right): sides matched to the {method} events"
    ]


def trial_reference(trial: Trial, name: str) -> Reference:
    """Cut ``trial`` into cycles per leg and average: the curves of a :class:`Reference` (mean ± SD over cycles)."""
    plate_notes: list[str] = []
    if trial.plates is not None and trial.force is None:
        trial, plate_notes = _assign_plates(trial)
    events, method, notes = trial_events(trial)
    notes = plate_notes + notes
    T = len(next(iter(trial.values.values()))) if trial.values else len(trial.force)  # type: ignore[arg-type]
    cycles = {s: gait.segment_cycles(events[s], s, (0, T), trial.fps) for s in SIDES}
    n = {s: len(cycles[s]) for s in SIDES}
    if not any(n.values()):
        raise ReferenceError(
            f"{trial.source}: no complete gait cycle found with {method} (need two foot strikes of one foot with "
            "a foot off between them); is this a whole trial of walking or running?"
        )
    if sum(n.values()) < gait.MIN_CYCLES:
        notes.append(
            f"the reference trial has only {sum(n.values())} cycle(s) (left {n['left']}, right {n['right']}): "
            f"its SD and the statistics need at least {gait.MIN_CYCLES}"
        )
    values, conventions = dict(trial.values), dict(trial.conventions)
    if trial.force is not None:
        grf, grf_conventions = _grf_values(trial.force, cycles)
        values |= grf
        conventions |= grf_conventions
    stance = [c.stance_pct for s in SIDES for c in cycles[s]]
    contact = trial.force[..., 1] > FORCE_THRESHOLD_N if method.startswith("force") else None
    kind = gait.gait_type(cycles["left"], cycles["right"], contact)
    return Reference(
        name=name,
        source=trial.source,
        curves=_cycle_curves(values, cycles),
        description=f"lab trial ({kind}): {n['left']} left + {n['right']} right cycles, events from {method}",
        gait_type=kind,
        stance_pct=(float(np.mean(stance)), float(np.std(stance))),
        cycles_per_side=n,
        event_method=method,
        conventions=conventions,
        notes=(*trial.notes, *notes),
    )


def _grf_values(
    force: np.ndarray, cycles: dict[str, list[gait.Cycle]]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``grf_vertical`` and ``grf_anterior`` (body weights, (T, 2)) of a trial's ``force (T, 2, 2)``, and how
    they were made."""
    # Body weight = the mean total vertical force over whole cycles (no external support assumed).
    spans = [(c.start, c.stop) for s in SIDES for c in cycles[s]]
    a, b = min(x[0] for x in spans), max(x[1] for x in spans)
    bw = float(np.mean(force[a:b, :, 1].sum(axis=1)))
    # Anterior = the direction the foot is pushed at push-off: braking (negative) comes first in stance.
    sign = _anterior_sign(force, cycles)
    values = {"grf_vertical": force[..., 1] / bw, "grf_anterior": sign * force[..., 0] / bw}
    conventions = {
        "grf_vertical": f"ground_force_vy / body weight ({bw:.0f} N = mean total vertical force)",
        "grf_anterior": f"ground_force_vx x {sign:+g} / body weight (braking first in stance)",
    }
    return values, conventions


def _cycle_curves(
    values: dict[str, np.ndarray], cycles: dict[str, list[gait.Cycle]]
) -> dict[str, ReferenceCurve]:
    """Quantity -> mean ± SD over every cycle of both legs (a side whose values are NaN is left out)."""
    curves = {}
    for q, v in values.items():
        rows = [
            gait.normalise(v[:, i], c)
            for i, s in enumerate(SIDES)
            for c in cycles[s]
            if not np.isnan(v[0, i])
        ]
        if not rows:
            continue
        r = np.stack(rows)
        curves[q] = ReferenceCurve(
            quantity=q,
            unit=QUANTITIES[q].unit,
            percent=gait.PERCENT.copy(),
            mean=r.mean(axis=0),
            sd=r.std(axis=0, ddof=1) if len(r) > 1 else None,
            cycles=r,
        )
    return curves


def _anterior_sign(force: np.ndarray, cycles: dict[str, list[gait.Cycle]]) -> float:
    early = [
        force[c.start : c.start + max(1, (c.off - c.start) // 4), i, 0].mean()
        for i, s in enumerate(SIDES)
        for c in cycles[s]
    ]
    return -1.0 if early and float(np.mean(early)) > 0 else 1.0


def load_trial(path: str | Path, forces: str | Path | None = None) -> Reference:
    """A reference from a lab trial: OpenSim ``.mot``/``.sto`` (plus an optional external-loads ``.mot``) or C3D."""
    p = Path(path).expanduser()
    if p.suffix.lower() == ".c3d":
        if forces is not None:
            raise ReferenceError(
                f"{forces}: external loads go with an OpenSim .mot; a C3D carries its own data"
            )
        return trial_reference(read_c3d(p), p.stem)
    tab = read_sto(p)
    has_angles = any(f"{c}_r" in tab.columns or f"{c}_l" in tab.columns for c in MOT_COORDS)
    grf_in_file = any("ground_force" in c for c in tab.columns)
    ftab = read_sto(forces) if forces is not None else (tab if grf_in_file else None)
    return trial_reference(trial_from_sto(tab if has_angles or ftab is None else None, ftab), p.stem)
