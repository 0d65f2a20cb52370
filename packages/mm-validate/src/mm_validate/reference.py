"""Experimental reference data: gait-cycle curves (mean ± SD over 0-100 % of the cycle).

The normative curves (Schwartz 2008 walking, BMC-RIC running) ship as package data in ``mm_validate/data`` with
their citations and licence notice (``data/NOTICE.md``); a user's own copy overrides them by path
(``--reference-dir``, ``$MM_REFERENCE_DIR``, ``$MM_DATA/reference``). Every loader checks columns, units and value
ranges and names the file and the offending value in its error. The types (``Reference``, ``ReferenceCurve``,
``ReferenceError``) are defined in :mod:`mm_validate.reference_types` and importable from here.
"""

from __future__ import annotations

import csv
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from mm_validate.quantities import QUANTITIES, UNIT_RANGES
from mm_validate.reference_types import Reference, ReferenceCurve, ReferenceError

ENV_DIR = "MM_REFERENCE_DIR"
SCHWARTZ_FILE = "schwartz2008_walking.csv"
SCHWARTZ_EVENTS = "schwartz2008_events.csv"
BMCRIC_FILE = "bmcric_running.csv"
SCHWARTZ_SPEEDS = ("very_slow", "slow", "free", "fast", "very_fast")
GENERIC_COLUMNS = ("variable", "unit", "percent_cycle", "mean", "sd")


#: The normative curves shipped with mm-validate (citations and licences in NOTICE.md there).
PACKAGED_DIR = Path(__file__).parent / "data"


def reference_dir(path: str | Path | None = None) -> Path:
    """The reference directory: ``path``, else ``$MM_REFERENCE_DIR``, else ``$MM_DATA/reference`` when it exists,
    else the curves packaged with mm-validate (``PACKAGED_DIR``)."""
    chosen = path if path is not None else os.environ.get(ENV_DIR)
    if not chosen:
        mm_data = os.environ.get("MM_DATA")
        if mm_data and (Path(mm_data).expanduser() / "reference").is_dir():
            return Path(mm_data).expanduser() / "reference"
        return PACKAGED_DIR
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


def load_reference(
    name_or_path: str, reference_dir_: str | Path | None = None, forces: str | Path | None = None
) -> Reference:
    """A registered dataset by name (data looked up in ``reference_dir_`` / ``$MM_REFERENCE_DIR``, else the
    packaged curves), a CSV of cycle curves, or a lab trial (OpenSim ``.mot``/``.sto`` with an optional
    external-loads ``forces`` file, or C3D) cut into cycles."""
    from mm_core import registry

    names = registry.reference_datasets.names()
    if forces is not None and Path(name_or_path).suffix.lower() not in (".mot", ".sto"):
        raise ReferenceError(
            f"{forces}: external loads (--reference-forces) go with an OpenSim .mot/.sto trial"
        )
    if name_or_path in names:
        return registry.get_reference_dataset(name_or_path).load(reference_dir_)
    p = Path(name_or_path).expanduser()
    if p.suffix.lower() in (".mot", ".sto", ".c3d"):
        from mm_validate.trial import load_trial

        return load_trial(p, forces)
    if p.suffix.lower() == ".csv":
        return load_csv(p)
    raise ReferenceError(
        f"reference {name_or_path!r} is neither a registered dataset ({', '.join(names)}) nor a "
        ".csv / .mot / .sto / .c3d file"
    )
