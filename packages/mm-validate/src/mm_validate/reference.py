"""Experimental reference data: gait-cycle curves (mean ± SD over 0-100 % of the cycle).

The data files do not ship with mm: users point at them with ``--reference-dir`` or ``$MM_REFERENCE_DIR``
(see the package README for the file formats). Every loader checks columns, units and value ranges and names the
file and the offending value in its error.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mm_validate.quantities import QUANTITIES, UNIT_RANGES

ENV_DIR = "MM_REFERENCE_DIR"
SCHWARTZ_FILE = "schwartz2008_walking.csv"
SCHWARTZ_EVENTS = "schwartz2008_events.csv"
BMCRIC_FILE = "bmcric_running.csv"
SCHWARTZ_SPEEDS = ("very_slow", "slow", "free", "fast", "very_fast")
GENERIC_COLUMNS = ("variable", "unit", "percent_cycle", "mean", "sd")


class ReferenceError(ValueError):
    """A reference file is missing or malformed; the message names the file and what to do."""


@dataclass(frozen=True, kw_only=True)
class ReferenceCurve:
    """One quantity of a reference dataset over the gait cycle."""

    quantity: str
    """Clinical quantity name, e.g. ``knee_flexion`` (see ``mm_validate.quantities.QUANTITIES``)."""
    unit: str
    """``deg``, ``BW``, ``N*m/kg``, ``W/kg`` or ``fraction_of_max``."""
    percent: np.ndarray
    """percent_cycle: sample points, 0 = foot strike, 100 = next foot strike (P,)."""
    mean: np.ndarray
    """mean: group mean at each point (P,)."""
    sd: np.ndarray | None = None
    """sd: between-subject SD at each point, None when the source has none (P,)."""


@dataclass(frozen=True, kw_only=True)
class Reference:
    """A reference dataset: curves by quantity plus human-variability baselines."""

    name: str
    """Dataset name or file stem."""
    source: str
    """File the curves were read from."""
    curves: dict[str, ReferenceCurve]
    """Quantity -> curve."""
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    """Quantity -> {metric: value} of human variability (e.g. neighbouring speed group against this one)."""
    description: str = ""
    """One line for reports."""
    stance_pct: tuple[float, float] | None = None
    """Toe-off (end of stance) as (mean, SD) in % of the cycle, when the dataset gives it."""


#: Looked at, in order, when neither a path nor $MM_REFERENCE_DIR is given: $MM_DATA/reference, then the data folder
#: beside an mm checkout (CI and the dev workspace keep it at ../shared/data/reference from the repo root).
FALLBACK_DIRS = ("$MM_DATA/reference", "../shared/data/reference")


def reference_dir(path: str | Path | None = None) -> Path:
    """The reference directory: ``path``, else ``$MM_REFERENCE_DIR``, else the first existing ``FALLBACK_DIRS``."""
    chosen = path if path is not None else os.environ.get(ENV_DIR)
    if not chosen:
        for cand in FALLBACK_DIRS:
            p = Path(os.path.expandvars(cand))
            if "$" not in str(p) and p.is_dir():
                return p
        raise ReferenceError(
            "no reference data location: pass --reference-dir DIR (the folder with schwartz2008_walking.csv, "
            f"bmcric_running.csv) or set ${ENV_DIR}"
        )
    p = Path(chosen).expanduser()
    if not p.exists():
        raise ReferenceError(
            f"{p}: reference location does not exist; pass --reference-dir or set ${ENV_DIR}"
        )
    return p


def _file_in(path: str | Path | None, filename: str) -> Path:
    p = reference_dir(path)
    f = (p / filename if p.is_dir() else p).resolve()
    if not f.is_file():
        raise ReferenceError(f"{f}: reference file not found (expected {filename} in {p})")
    return f


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = tuple(reader.fieldnames or ())
            missing = [c for c in required if c not in cols]
            if missing:
                raise ReferenceError(
                    f"{path}: missing column(s) {missing}; found {list(cols)}. A reference CSV needs the columns "
                    f"{list(required)} (see the mm-validate README)"
                )
            # Keep the file's line number with each row so errors point at it (line 1 is the header).
            return [{**r, "_line": str(i)} for i, r in enumerate(reader, start=2)]
    except UnicodeDecodeError as e:
        raise ReferenceError(f"{path}: not a UTF-8 text CSV ({e})") from e


def _float(path: Path, row: str, col: str, text: str | None, allow_empty: bool = False) -> float:
    if text is None or text.strip() == "":
        if allow_empty:
            return math.nan
        raise ReferenceError(f"{path}: line {row}: column {col!r} is empty")
    try:
        v = float(text)
    except ValueError as e:
        raise ReferenceError(f"{path}: line {row}: column {col!r} is not a number: {text!r}") from e
    if not math.isfinite(v):
        raise ReferenceError(f"{path}: line {row}: column {col!r} is not finite: {text!r}")
    return v


def curves_from_rows(
    path: Path, rows: list[dict[str, str]], default_unit: str | None = None
) -> dict[str, ReferenceCurve]:
    """Parse long-format rows (``variable, unit, percent_cycle, mean, sd``) into checked curves."""
    by_var: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    units: dict[str, str] = {}
    for r in rows:
        i = r["_line"]
        var = (r.get("variable") or "").strip()
        if not var:
            raise ReferenceError(f"{path}: line {i}: column 'variable' is empty")
        unit = (r.get("unit") or default_unit or "").strip()
        if unit not in UNIT_RANGES:
            raise ReferenceError(
                f"{path}: line {i}: unit {unit!r} of {var!r} is not one of {sorted(UNIT_RANGES)} "
                "(convert the data, e.g. radians to deg, %BW to BW)"
            )
        if var in QUANTITIES and QUANTITIES[var].unit != unit:
            raise ReferenceError(
                f"{path}: line {i}: {var!r} must be in {QUANTITIES[var].unit!r}, got {unit!r}; convert the column"
            )
        if units.setdefault(var, unit) != unit:
            raise ReferenceError(f"{path}: line {i}: {var!r} mixes units {units[var]!r} and {unit!r}")
        pct = _float(path, i, "percent_cycle", r.get("percent_cycle"))
        mean = _float(path, i, "mean", r.get("mean"))
        sd = _float(path, i, "sd", r.get("sd"), allow_empty=True)
        lo, hi = UNIT_RANGES[unit]
        if not lo <= mean <= hi:
            raise ReferenceError(
                f"{path}: line {i}: {var!r} mean {mean} is outside the plausible range [{lo}, {hi}] {unit}; "
                "check the unit (e.g. radians vs degrees, %BW vs BW)"
            )
        # A negative SD is read as its magnitude: the Schwartz sheet stores the vertical GRF's -1SD/+1SD swapped.
        by_var[var].append((pct, mean, abs(sd)))
    if not by_var:
        raise ReferenceError(f"{path}: no data rows")
    curves = {}
    for var, pts in by_var.items():
        pts.sort()
        pct = np.array([p[0] for p in pts])
        if pct[0] != 0 or pct[-1] != 100 or np.any(np.diff(pct) <= 0) or len(pct) < 5:
            raise ReferenceError(
                f"{path}: {var!r}: percent_cycle must run from 0 to 100 with at least 5 distinct, increasing points "
                f"(got {len(pct)} points from {pct[0]:g} to {pct[-1]:g}, duplicates: {bool(np.any(np.diff(pct) <= 0))})"
            )
        sd = np.array([p[2] for p in pts])
        curves[var] = ReferenceCurve(
            quantity=var,
            unit=units[var],
            percent=pct,
            mean=np.array([p[1] for p in pts]),
            sd=None if np.all(np.isnan(sd)) else np.nan_to_num(sd, nan=0.0),
        )
    return curves


def load_csv(path: str | Path, name: str | None = None) -> Reference:
    """A user CSV in mm's long format: columns ``variable, unit, percent_cycle, mean, sd`` (sd may be empty)."""
    p = Path(path)
    if not p.is_file():
        raise ReferenceError(f"{p}: no such reference file")
    rows = _read_rows(p, GENERIC_COLUMNS[:4])
    return Reference(name=name or p.stem, source=str(p), curves=curves_from_rows(p, rows))


def load_schwartz(path: str | Path | None = None, speed: str = "free") -> Reference:
    """Schwartz et al. 2008 walking (children, 51 points) at one speed group, with inter-speed baselines."""
    if speed not in SCHWARTZ_SPEEDS:
        raise ReferenceError(
            f"unknown Schwartz 2008 speed group {speed!r}; valid: {', '.join(SCHWARTZ_SPEEDS)}"
        )
    f = _file_in(path, SCHWARTZ_FILE)
    rows = _read_rows(f, ("speed_group", *GENERIC_COLUMNS))
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        groups[r["speed_group"]].append(r)
    if speed not in groups:
        raise ReferenceError(f"{f}: no rows for speed_group {speed!r}; found {sorted(groups)}")
    curves = curves_from_rows(f, groups[speed])
    # Human-variability baseline: how well the neighbouring speed groups' means match this one.
    i = SCHWARTZ_SPEEDS.index(speed)
    neighbours = [s for s in SCHWARTZ_SPEEDS[max(0, i - 1) : i + 2] if s != speed and s in groups]
    others = [curves_from_rows(f, groups[s]) for s in neighbours]
    baselines: dict[str, dict[str, float]] = {}
    from mm_validate.metrics import pearson_r, rmse

    for q, c in curves.items():
        rs = [pearson_r(o[q].mean, c.mean) for o in others if q in o]
        es = [rmse(o[q].mean, c.mean) for o in others if q in o]
        baselines[q] = (
            {"interspeed_r": float(np.mean(rs)), "interspeed_rmse": float(np.mean(es))} if rs else {}
        )
    return Reference(
        name=f"schwartz2008-walking-{speed.replace('_', '-')}",
        source=str(f),
        curves=curves,
        baselines=baselines,
        stance_pct=_schwartz_foot_off(f.with_name(SCHWARTZ_EVENTS), speed),
        description=f"Schwartz et al. 2008, typically developing children walking, {speed} speed group",
    )


def _schwartz_foot_off(path: Path, speed: str) -> tuple[float, float] | None:
    """Ipsilateral foot off (% cycle, mean and SD) of ``speed`` from the events file, if it is there."""
    if not path.is_file():
        return None
    for r in _read_rows(path, ("speed_group", "event", "mean_percent_cycle", "sd_percent_cycle")):
        if r["speed_group"] == speed and r["event"] == "ipsilateral_foot_off":
            mean = _float(path, r["_line"], "mean_percent_cycle", r["mean_percent_cycle"])
            sd = _float(path, r["_line"], "sd_percent_cycle", r["sd_percent_cycle"])
            if not 0 < mean < 100:
                raise ReferenceError(f"{path}: line {r['_line']}: foot off at {mean} % is outside 0-100 %")
            return mean, abs(sd)
    return None


def load_bmcric(path: str | Path | None = None) -> Reference:
    """BMC-RIC treadmill running at ~2.5 m/s (46 adults, 101 points), 3-D hip, knee and ankle angles."""
    f = _file_in(path, BMCRIC_FILE)
    rows = _read_rows(f, ("variable", "percent_cycle", "mean", "sd"))
    return Reference(
        name="bmcric-running",
        source=str(f),
        curves=curves_from_rows(f, rows, default_unit="deg"),
        description="BMC-RIC running at ~2.5 m/s, 46 adult recreational runners",
    )


# OpenSim coordinate -> (clinical quantity, sign). Knee: see _mot_knee_sign.
MOT_COORDS = {
    "hip_flexion": ("hip_flexion", 1.0),
    "hip_adduction": ("hip_adduction", 1.0),
    "hip_rotation": ("hip_internal_rotation", 1.0),
    "knee_angle": ("knee_flexion", 1.0),
    "ankle_angle": ("ankle_dorsiflexion", 1.0),
    "subtalar_angle": ("ankle_inversion", 1.0),
}
MOT_PELVIS = {
    "pelvis_tilt": ("pelvis_anterior_tilt", -1.0),
    "pelvis_list": ("pelvis_obliquity_up", 1.0),
    "pelvis_rotation": ("pelvis_internal_rotation", 1.0),
}


def load_mot(path: str | Path, side: str = "r") -> Reference:
    """An OpenSim ``.mot`` holding ONE gait cycle (first row = foot strike, last row = the next one) of one side.

    Coordinates are mapped to clinical quantities (``MOT_COORDS``); radians are converted when the header says
    ``inDegrees=no``; OpenSim models whose knee flexion is negative (gait2392) are detected and flipped.
    """
    p = Path(path)
    if not p.is_file():
        raise ReferenceError(f"{p}: no such .mot file")
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        end = next(i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader")
    except StopIteration:
        raise ReferenceError(f"{p}: not an OpenSim .mot/.sto file (no 'endheader' line)") from None
    in_degrees = not any(ln.strip().lower() == "indegrees=no" for ln in lines[:end])
    cols = lines[end + 1].split()
    if not cols or cols[0] != "time":
        raise ReferenceError(f"{p}: the first column after 'endheader' must be 'time', got {cols[:1]}")
    try:
        data = np.array([[float(x) for x in ln.split()] for ln in lines[end + 2 :] if ln.strip()])
    except ValueError as e:
        raise ReferenceError(f"{p}: non-numeric value in the data block ({e})") from e
    if data.ndim != 2 or data.shape[1] != len(cols) or len(data) < 5:
        raise ReferenceError(f"{p}: expected >= 5 rows of {len(cols)} columns, got shape {data.shape}")
    t = data[:, 0]
    if np.any(np.diff(t) <= 0):
        raise ReferenceError(f"{p}: column 'time' must increase strictly")
    pct = 100.0 * (t - t[0]) / (t[-1] - t[0])
    curves = {}
    for coord, (q, sign) in list(MOT_COORDS.items()) + list(MOT_PELVIS.items()):
        col = coord if coord in MOT_PELVIS else f"{coord}_{side}"
        if col not in cols:
            continue
        v = data[:, cols.index(col)] * (1.0 if in_degrees else 180.0 / math.pi)
        if coord == "knee_angle" and np.mean(v) < 0:
            sign = -1.0  # gait2392-style knee: flexion is negative
        if side == "l" and coord in MOT_PELVIS and coord != "pelvis_tilt":
            sign = -sign
        v = sign * v
        if np.max(np.abs(v)) > 180:
            raise ReferenceError(f"{p}: column {col!r} exceeds 180 deg; is the inDegrees header right?")
        curves[q] = ReferenceCurve(quantity=q, unit="deg", percent=pct, mean=v, sd=None)
    if not curves:
        want = [f"{c}_{side}" for c in MOT_COORDS] + list(MOT_PELVIS)
        raise ReferenceError(f"{p}: no known OpenSim coordinate columns; expected some of {want}")
    return Reference(name=p.stem, source=str(p), curves=curves, description="OpenSim .mot, one gait cycle")


def load_reference(name_or_path: str, reference_dir_: str | Path | None = None) -> Reference:
    """A registered dataset by name (data looked up in ``reference_dir_`` / ``$MM_REFERENCE_DIR``), or a file."""
    from mm_core import registry

    names = registry.reference_datasets.names()
    if name_or_path in names:
        return registry.get_reference_dataset(name_or_path).load(reference_dir_)
    p = Path(name_or_path).expanduser()
    if p.suffix.lower() in (".mot", ".sto"):
        return load_mot(p)
    if p.suffix.lower() == ".csv":
        return load_csv(p)
    raise ReferenceError(
        f"reference {name_or_path!r} is neither a registered dataset ({', '.join(names)}) nor a .csv/.mot file"
    )
