"""Validation beyond gait: any coordinate time series of a clip against an OpenSim ``.mot`` reference.

For motions without gait cycles (an arm reach on ``bimanual``, a squat) and embodiments that do not walk: every
reference column named like one of the model's hinge or slide joints is compared with that joint's ``qpos``
(degrees for hinges, metres for slides) over the time the two overlap, aligned either by time (reference row at
time t = clip frame at t) or by the lag that maximises the mean cross-correlation over all shared coordinates.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mm_core.outputs import atomic_path
from mm_validate.analysis import FLAT_RANGE
from mm_validate.metrics import pearson_r, rmse
from mm_validate.reference import ReferenceError
from mm_validate.trial import Table, read_sto

ALIGN_METHODS = ("xcorr", "time")
#: Largest lag searched by ``xcorr``, as a fraction of the shorter recording.
MAX_LAG_FRACTION = 0.5


@dataclass(frozen=True, kw_only=True)
class SeriesComparison:
    """Per-coordinate agreement of two time series on a common time base."""

    time: np.ndarray
    """time: clip time of each compared sample, s (N,)."""
    clip: dict[str, np.ndarray]
    """Coordinate -> the clip's values on ``time`` (N,)."""
    reference: dict[str, np.ndarray]
    """Coordinate -> the reference's values on ``time`` (N,)."""
    units: dict[str, str]
    """Coordinate -> ``deg`` or ``m``."""
    lag_s: float
    """Reference time shift applied: reference time t + lag_s is compared with clip time t."""
    metrics: dict[str, dict[str, float]]
    """Coordinate -> {r, rmse, range_clip, range_reference}."""
    not_compared: dict[str, str]
    """Coordinate -> why it was not compared."""


def _joint_series(model: Any, clip: Any) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import mujoco

    from mm_models.kinematics import scalar_joints

    out, units = {}, {}
    for j in scalar_joints(model):
        kind = int(model.jnt_type[j])
        name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_JOINT, j) or ""
        v = np.asarray(clip.qpos, float)[:, model.jnt_qposadr[j]]
        hinge = kind == int(mujoco.mjtJoint.mjJNT_HINGE)
        out[name] = np.degrees(v) if hinge else v
        units[name] = "deg" if hinge else "m"
    return out, units


def _best_lag(
    clip_t: np.ndarray, clip: dict, ref_t: np.ndarray, ref: dict, names: list[str], fps: float
) -> float:
    """Reference shift (s) maximising the mean Pearson r over ``names`` on the overlapping time."""
    span = min(clip_t[-1] - clip_t[0], ref_t[-1] - ref_t[0])
    lags = np.arange(-MAX_LAG_FRACTION * span, MAX_LAG_FRACTION * span + 0.5 / fps, 1.0 / fps)
    best, best_r = 0.0, -math.inf
    for lag in lags:
        t = clip_t[(clip_t + lag >= ref_t[0]) & (clip_t + lag <= ref_t[-1])]
        if len(t) < 10:
            continue
        rs = [pearson_r(np.interp(t, clip_t, clip[n]), np.interp(t + lag, ref_t, ref[n])) for n in names]
        rs = [r for r in rs if not math.isnan(r)]
        if rs and np.mean(rs) > best_r:
            best, best_r = float(lag), float(np.mean(rs))
    return best


def compare_series(model: Any, clip: Any, table: Table, align: str = "xcorr") -> SeriesComparison:
    """Compare the clip's joint coordinates with the reference table's columns of the same names."""
    if align not in ALIGN_METHODS:
        raise ValueError(f"unknown alignment {align!r}; valid: {', '.join(ALIGN_METHODS)}")
    series, units = _joint_series(model, clip)
    shared = [c for c in table.columns[1:] if c in series]
    if not shared:
        raise ReferenceError(
            f"{table.path}: no column is named like a joint of embodiment {clip.embodiment!r}; its joints are "
            f"{list(series)[:12]}..., the file's columns {table.columns[1:12]}"
        )
    scale = 1.0 if table.in_degrees else 180.0 / math.pi
    ref = {c: table.col(c) * (scale if units[c] == "deg" else 1.0) for c in shared}
    ref_t = table.col("time") - table.col("time")[0]
    clip_t = np.arange(len(clip.qpos)) / float(clip.fps)
    not_compared: dict[str, str] = {}
    varying = []
    for c in shared:
        for who, x in (("reference", ref[c]), ("clip", series[c])):
            if np.ptp(x) < FLAT_RANGE[units[c]]:
                not_compared[c] = (
                    f"constant in the {who} (range {np.ptp(x):.2g} {units[c]}): a locked coordinate"
                )
                break
        else:
            varying.append(c)
    if not varying:
        raise ReferenceError(f"{table.path}: every shared coordinate is constant; nothing to compare")
    lag = _best_lag(clip_t, series, ref_t, ref, varying, float(clip.fps)) if align == "xcorr" else 0.0
    t = clip_t[(clip_t + lag >= ref_t[0]) & (clip_t + lag <= ref_t[-1])]
    if len(t) < 5:
        raise ReferenceError(f"{table.path}: the reference and the clip overlap in fewer than 5 frames")
    a = {c: np.interp(t, clip_t, series[c]) for c in varying}
    b = {c: np.interp(t + lag, ref_t, ref[c]) for c in varying}
    metrics = {
        c: {
            "r": pearson_r(a[c], b[c]),
            "rmse": rmse(a[c], b[c]),
            "range_clip": float(np.ptp(a[c])),
            "range_reference": float(np.ptp(b[c])),
            "lag_s": lag,
        }
        for c in varying
    }
    return SeriesComparison(
        time=t,
        clip=a,
        reference=b,
        units={c: units[c] for c in varying},
        lag_s=lag,
        metrics=metrics,
        not_compared=not_compared,
    )


def validate_series(clip: Any, reference: str | Path, out: str | Path, align: str = "xcorr") -> Any:
    """Time-series validation of ``clip`` against a ``.mot``: ``report.json``, ``series.png``, ``report.html``."""
    from mm_core import ValidationReport, get_embodiment

    if not clip.embodiment:
        raise ValueError(f"clip {clip.name!r} does not say its embodiment (MotionClip.embodiment is empty)")
    table = read_sto(reference)
    model = get_embodiment(clip.embodiment).compile()
    if np.asarray(clip.qpos).shape[1] != model.nq:
        raise ValueError(
            f"clip {clip.name!r}: qpos has {np.asarray(clip.qpos).shape[1]} columns, embodiment nq={model.nq}"
        )
    comp = compare_series(model, clip, table, align)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig = _plot(comp, out / "series.png", table.path.name)
    how = (
        f"aligned by cross-correlation (reference shifted {comp.lag_s:+.2f} s)"
        if align == "xcorr"
        else "aligned by time"
    )
    notes = (
        f"checks applied: coordinate time series against {table.path.name}, {how}, "
        f"{len(comp.time)} frames ({comp.time[-1] - comp.time[0]:.2f} s) compared",
        "not applicable: gait cycles, GRF, moments, EMG (a time-series reference, no gait cycles)",
        *(f"not compared: {c}: {why}" for c, why in comp.not_compared.items()),
    )
    report = ValidationReport(
        subject=f"motion {clip.name or clip.source}",
        reference=f"{table.path.stem} ({table.path})",
        metrics={**comp.metrics, "series": {"lag_s": comp.lag_s, "frames": float(len(comp.time))}},
        figures=(str(fig),),
        notes=notes,
    )
    report.save_json(out / "report.json")
    _html(report, comp, out / "report.html")
    return report


def _plot(comp: SeriesComparison, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(comp.metrics)
    ncol = min(3, len(names))
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 2.8 * nrow), squeeze=False)
    for ax, c in zip(axes.flat, names, strict=False):
        ax.plot(comp.time, comp.reference[c], color="k", lw=1.5, label="reference")
        ax.plot(comp.time, comp.clip[c], color="tab:blue", lw=1.5, label="clip")
        ax.set_title(f"{c} (r {comp.metrics[c]['r']:.2f})", fontsize=9)
        ax.set_xlabel("clip time, s")
        ax.set_ylabel(comp.units[c])
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"Coordinates vs {title} (reference shifted {comp.lag_s:+.2f} s)", fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
    return path


def _html(report: Any, comp: SeriesComparison, path: Path) -> Path:
    import base64

    def fmt(v: float) -> str:
        return "–" if isinstance(v, float) and math.isnan(v) else f"{v:.3g}"

    cols = ("r", "rmse", "range_clip", "range_reference")
    rows = "".join(
        f"<tr><th>{html.escape(c)}</th><td>{comp.units[c]}</td>"
        + "".join(f"<td>{fmt(m[k])}</td>" for k in cols)
        + "</tr>"
        for c, m in comp.metrics.items()
    )
    figs = "".join(
        f'<img alt="series" src="data:image/png;base64,{base64.b64encode(Path(f).read_bytes()).decode()}"/>'
        for f in report.figures
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    head = "".join(f"<th>{c}</th>" for c in ("coordinate", "unit", *cols))
    with atomic_path(path) as tmp:
        tmp.write_text(
            f"""<!doctype html><html><head><meta charset="utf-8"><title>mm validate: {html.escape(report.subject)}</title>
<style>body{{font-family:sans-serif;margin:2em}} td,th{{border:1px solid #ccc;padding:3px 8px}}
table{{border-collapse:collapse}} img{{max-width:100%}}</style></head><body>
<h1>Coordinate time-series validation</h1><p><b>Subject:</b> {html.escape(report.subject)}<br>
<b>Reference:</b> {html.escape(report.reference)}</p>
<table><tr>{head}</tr>{rows}</table><h2>Notes</h2><ul>{notes}</ul><h2>Figures</h2>{figs}</body></html>
""",
            encoding="utf-8",
        )
    return path
