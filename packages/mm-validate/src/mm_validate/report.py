"""Figures (matplotlib, Agg) and the self-contained HTML report."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mm_core.outputs import atomic_path
from mm_validate import gait
from mm_validate.quantities import EXCITATION_PREFIX, QUANTITIES

if TYPE_CHECKING:  # pragma: no cover
    from mm_core.contracts import ValidationReport
    from mm_validate.analysis import Analysis
    from mm_validate.reference_types import Reference

KIND_TITLES = {
    "angle": "Joint angles",
    "grf": "Ground reaction forces",
    "moment": "Joint moments",
    "power": "Joint powers",
    "emg": "Muscle activations vs EMG",
}


def plot_figures(
    analysis: Analysis,
    reference: Reference,
    out: Path,
    spm_regions: dict[str, list[tuple[float, float]]] | None = None,
    not_compared: dict[str, str] | None = None,
) -> list[Path]:
    """One PNG per quantity group: simulated mean ± SD over the reference mean ± SD band; the supra-threshold
    regions of the SPM t-test (``spm_regions``: quantity -> (start, end) % of the cycle) shaded in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, title in KIND_TITLES.items():
        qs = [q for q in analysis.curves if QUANTITIES.get(q) and QUANTITIES[q].kind == kind]
        if not qs:
            continue
        n = len(qs)
        ncol = min(3, n)
        nrow = math.ceil(n / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False)
        for ax, q in zip(axes.flat, qs, strict=False):
            _plot_quantity(ax, q, analysis, reference, (spm_regions or {}).get(q, []))
            skipped = q in (not_compared or {}) and q in reference.curves
            ax.set_title(q.replace("_", " ") + (" (not compared)" if skipped else ""), fontsize=10)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7, loc="best")
        fig.suptitle(f"{title}: {reference.name}", fontsize=11)
        fig.tight_layout()
        path = out / f"{kind}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)
        written.append(path)
    return written


def _plot_quantity(
    ax: Any, q: str, analysis: Analysis, reference: Reference, spm_regions: list[tuple[float, float]]
) -> None:
    """One panel: reference mean ± SD, simulated mean ± SD (and the mean excitation of an EMG channel), the SPM
    regions shaded."""
    ref = reference.curves.get(q)
    if ref is not None:
        if ref.sd is not None:
            ax.fill_between(
                ref.percent, ref.mean - ref.sd, ref.mean + ref.sd, color="0.8", label="reference ± SD"
            )
        ax.plot(ref.percent, ref.mean, color="k", lw=1.5, label="reference mean")
    rows = analysis.curves[q]
    m, s = rows.mean(axis=0), rows.std(axis=0)
    ax.fill_between(gait.PERCENT, m - s, m + s, color="tab:blue", alpha=0.25, label="simulated ± SD")
    ax.plot(gait.PERCENT, m, color="tab:blue", lw=1.5, label=f"simulated mean ({len(rows)} cycles)")
    exc = analysis.curves.get(EXCITATION_PREFIX + q)
    if exc is not None:
        ax.plot(gait.PERCENT, exc.mean(axis=0), color="tab:orange", lw=1, ls="--", label="excitation (mean)")
    for i, (a, b) in enumerate(spm_regions):
        ax.axvspan(a, b, color="tab:red", alpha=0.15, lw=0, label="SPM p < 0.05" if i == 0 else None)
    ax.set_xlabel("% gait cycle")
    ax.set_ylabel(QUANTITIES[q].unit)
    ax.set_xlim(0, 100)


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3g}"


SUMMARY_COLUMNS = (
    "r",
    "rmse",
    "in_band",
    "lag_r",
    "lag_pct",
    "n_cycles",
    "n_cycles_reference",
    "spm_supra_pct",
    "baseline_rmse_sd",
    "interspeed_r",
)
#: Zero of each angle in the model (mm's side of the comparison); the README's Conventions table says more.
ANGLE_ZERO = {
    "hip_flexion": "femur aligned with the pelvis",
    "hip_adduction": "femur aligned with the pelvis",
    "hip_internal_rotation": "femur aligned with the pelvis",
    "knee_flexion": "straight knee",
    "ankle_dorsiflexion": "foot at 90° to the tibia",
    "ankle_inversion": "neutral subtalar joint",
    "pelvis_anterior_tilt": "pelvis as in the model's default pose (Plug-in Gait's ASIS-PSIS line: ~10° offset)",
    "pelvis_obliquity_up": "level pelvis",
    "pelvis_internal_rotation": "facing the direction of travel",
    "trunk_anterior_tilt": "upright default pose (absolute)",
}


def _conventions(analysis: Analysis, reference: Reference | None) -> str:
    rows = []
    for q, quantity in QUANTITIES.items():
        if q not in analysis.curves or (reference is not None and q not in reference.curves):
            continue
        sides = analysis.joint_map.joint_names.get(q, {})
        if q in analysis.joint_map.angle_dofs:
            sign = next(iter(analysis.joint_map.angle_dofs[q].values()))[2]
            model = f"joint {', '.join(sides.values())}, sign {sign:+g}"
        else:
            model = (
                ", ".join(f"{s}: {j}" for s, j in sides.items()) or "from the body axes / contacts (README)"
            )
        ref = reference.conventions.get(q, "as published (reference README)") if reference is not None else ""
        cells = (q, quantity.unit, quantity.positive, ANGLE_ZERO.get(q, "–"), model, ref)
        rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{c}</th>" for c in ("quantity", "unit", "positive =", "zero (model)", "model", "reference")
    )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def write_html(
    report: ValidationReport,
    analysis: Analysis,
    path: Path,
    gait_summary: dict[str, float],
    reference: Reference | None = None,
) -> Path:
    """A single HTML file (no external requests): summary table, gait summary, notes, the angle conventions and
    the figures embedded as base64 PNG."""
    rows = []
    for q, m in report.metrics.items():
        if q == "gait":
            continue
        unit = QUANTITIES[q].unit if q in QUANTITIES else ""
        cells = "".join(f"<td>{_fmt(m.get(c))}</td>" for c in SUMMARY_COLUMNS)
        rows.append(f"<tr><th>{html.escape(q)}</th><td>{unit}</td>{cells}</tr>")
    head = "".join(f"<th>{c}</th>" for c in ("quantity", "unit", *SUMMARY_COLUMNS))
    gait_rows = "".join(f"<tr><th>{k}</th><td>{_fmt(v)}</td></tr>" for k, v in gait_summary.items())
    mapping = "".join(
        f"<tr><th>{q}</th><td>{html.escape(', '.join(f'{s}: {j}' for s, j in sides.items()))}</td></tr>"
        for q, sides in analysis.joint_map.joint_names.items()
    )
    figs = "".join(
        f'<figure><img alt="{html.escape(Path(f).stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(Path(f).read_bytes()).decode()}"/></figure>'
        for f in report.figures
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    doc = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>mm validate: {html.escape(report.subject)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1400px}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} th{{text-align:left}} img{{max-width:100%}}</style>
</head><body>
<h1>Biomechanical validation</h1>
<p><b>Subject:</b> {html.escape(report.subject)}<br><b>Reference:</b> {html.escape(report.reference)}<br>
<b>Gait:</b> {analysis.gait_type}, events from {html.escape(analysis.event_source)}</p>
<h2>Summary</h2>
<p>r: Pearson correlation with the reference mean; rmse in the quantity's unit; in_band: fraction of the cycle
inside reference mean ± SD; lag_r / lag_pct: r at the best circular shift and that shift (% cycle, positive =
simulation late); baseline_rmse_sd: RMS of the reference SD (a typical subject's RMSE from the mean);
interspeed_r: r of neighbouring speed groups' means (human variability); n_cycles_reference: cycles of a
reference trial; spm_supra_pct: % of the cycle where SPM{{t}} exceeds its critical threshold.</p>
<table><tr>{head}</tr>{"".join(rows)}</table>
<h2>Gait</h2><table>{gait_rows}</table>
<h2>Notes</h2><ul>{notes}</ul>
<h2>Figures</h2>
<p>Red bands: where the two-sample SPM{{t}} test (spm1d, α = 0.05, two-tailed) finds the simulated cycles
different from the reference trial's cycles (only when both sides have ≥ 3 cycles).</p>{figs}
<h2>Conventions (sign, zero, source of each quantity)</h2>{_conventions(analysis, reference)}
<h2>Model mapping (joints and muscles)</h2><table>{mapping}</table>
</body></html>
"""
    with atomic_path(path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    return path


def curves_npz(analysis: Analysis, path: Path) -> Path:
    """Every per-cycle curve (C, 101) by quantity, for further analysis."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: numpy adds no suffix
        np.savez_compressed(f, percent=gait.PERCENT, **analysis.curves)
    return path
