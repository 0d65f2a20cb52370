"""From a recording to cycle-normalised curves, and from curves to metrics against a reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mm_validate import gait
from mm_validate.quantities import SIDES, JointMap, Recording, Signals, build_joint_map, compute_signals

if TYPE_CHECKING:  # pragma: no cover
    import mujoco

    from mm_validate.reference_types import Reference

#: Vertical GRF above this (multiples of body weight) counts as foot contact.
CONTACT_THRESHOLD_BW = 0.05


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """Gait cycles of a recording and every quantity time-normalised over them."""

    curves: dict[str, np.ndarray]
    """Quantity -> one row per cycle, left and right cycles pooled, 0-100 % in 101 points (C, 101)."""
    cycles: dict[str, list[gait.Cycle]]
    """Side -> cycles."""
    gait_type: str
    """``walking``, ``running`` or ``unknown`` (no cycle found)."""
    event_source: str
    """``contact forces``, ``foot height and speed`` and/or ``kinematics (Zeni)``."""
    signals: Signals
    """The per-frame quantities the curves were cut from."""
    joint_map: JointMap
    """How the quantities were found in the model."""
    fps: float
    """Frame rate of the recording."""
    notes: list[str] = field(default_factory=list)
    """Caveats for the report."""
    support: tuple[float, float] | None = None
    """(double support, flight) in % of the time both legs' state is known (see ``gait.support_phases``)."""

    def summary(self) -> dict[str, float]:
        cyc = self.cycles["left"] + self.cycles["right"]
        dur = [(c.stop - c.start) / self.fps for c in cyc]
        return {
            "cycles_left": float(len(self.cycles["left"])),
            "cycles_right": float(len(self.cycles["right"])),
            "stride_time_s": float(np.mean(dur)) if dur else math.nan,
            "stance_pct": float(np.mean([c.stance_pct for c in cyc])) if cyc else math.nan,
            "running": float(self.gait_type == "running"),
            "double_support_pct": self.support[0] if self.support else math.nan,
            "flight_pct": self.support[1] if self.support else math.nan,
        }


EVENT_METHODS = ("auto", "contact", "height", "zeni")


def analyse(
    model: mujoco.MjModel,
    rec: Recording,
    feet: dict[str, tuple[str, ...]] | None = None,
    events: str = "auto",
) -> Analysis:
    """Quantities, gait events, cycles and normalised curves of ``rec`` on ``model``.

    ``events``: ``contact`` (GRF of a rollout), ``height`` (foot height and speed, free root), ``zeni`` (heel/toe
    excursion relative to the pelvis) or ``auto`` (contact for a free-root rollout, height for a free-root clip,
    Zeni for a fixed root; Zeni per side whenever the first choice finds fewer than two foot strikes).
    """
    if events not in EVENT_METHODS:
        raise ValueError(f"unknown gait event method {events!r}; valid: {', '.join(EVENT_METHODS)}")
    jm = build_joint_map(model, feet)
    sig = compute_signals(model, jm, rec)
    contact, contact_source = _contact(sig, jm, rec.fps, events)
    notes: list[str] = []
    cycles: dict[str, list[gait.Cycle]] = {}
    sources = set()
    for i, side in enumerate(SIDES):
        ev, source, note = _side_events(sig, rec, i, contact, contact_source)
        sources.add(source)
        notes += [note] if note else []
        cycles[side] = [c for span in rec.spans() for c in gait.segment_cycles(ev, side, span, rec.fps)]
    curves = {}
    for q, v in sig.values.items():
        rows = [gait.normalise(v[:, i], c) for i, side in enumerate(SIDES) for c in cycles[side]]
        if rows:
            curves[q] = np.stack(rows)
    return Analysis(
        curves=curves,
        cycles=cycles,
        gait_type=gait.gait_type(cycles["left"], cycles["right"], contact),
        event_source=" + ".join(sorted(sources)),
        signals=sig,
        joint_map=jm,
        fps=rec.fps,
        notes=notes + _analysis_notes(rec, sig, cycles),
        support=gait.support_phases(cycles["left"], cycles["right"], contact),
    )


def _contact(sig: Signals, jm: JointMap, fps: float, events: str) -> tuple[np.ndarray | None, str]:
    """Foot contact flags per side (T, 2) for the ``events`` method and their source: GRF when the rollout touches
    the ground, else foot height and speed on a free-root motion, else none (fixed root: the feet swing in the
    air; Zeni's method is used)."""
    bw = jm.mass * 9.81
    free_root = jm.pelvis_body is not None
    has_grf = sig.foot_force is not None and np.any(sig.foot_force[..., 2] / bw > CONTACT_THRESHOLD_BW)
    if events == "contact" and not has_grf:
        raise ValueError("gait events from contact forces need a physics rollout with foot-ground contact")
    if events == "height" and not free_root:
        raise ValueError("gait events from foot height need a free-root model (the feet must meet the floor)")
    # A fixed-root model hangs in the air: its occasional toe touches do not define a gait, so auto skips them.
    if has_grf and (events == "contact" or (events == "auto" and free_root)):
        assert sig.foot_force is not None
        return sig.foot_force[..., 2] / bw > CONTACT_THRESHOLD_BW, "contact forces"
    if free_root and events in ("auto", "height"):
        sp = sig.site_pos
        contact = np.stack(
            [gait.contact_from_kinematics(sp[f"ankle_{s}"], sp[f"toes_{s}"], fps) for s in SIDES], axis=1
        )
        return contact, "foot height and speed"
    return None, ""


def _side_events(
    sig: Signals, rec: Recording, i: int, contact: np.ndarray | None, contact_source: str
) -> tuple[gait.Events, str, str | None]:
    """Gait events of side ``SIDES[i]``: from the ``contact`` flags (per segment, so an episode boundary never makes
    a strike) when they give two foot strikes, else Zeni's method; the events' source and a note when the two
    methods disagree."""
    side, sp = SIDES[i], sig.site_pos
    zeni = gait.events_from_kinematics(
        sp[f"ankle_{side}"], sp[f"toes_{side}"], sp["pelvis"], sig.progression, rec.fps
    )
    if contact is None:
        return zeni, "kinematics (Zeni)", None
    starts = [a for a, _ in rec.spans()]
    ev_s = [gait.events_from_force(contact[a:b, i].astype(float), rec.fps, 0.5) for a, b in rec.spans()]
    strikes = np.concatenate([e.strikes + a for e, a in zip(ev_s, starts, strict=True)])
    if len(strikes) < 2:
        return zeni, "kinematics (Zeni)", None
    offs = np.concatenate([e.offs + a for e, a in zip(ev_s, starts, strict=True)])
    ev = gait.Events(strikes=strikes, offs=offs)
    # Cross-check against Zeni's method: a large disagreement means one of them is fooled.
    gap = gait.strike_gap_pct(ev, zeni)
    note = None
    if gap > gait.EVENT_TOLERANCE_PCT:
        note = (
            f"event methods disagree ({side}): {contact_source} vs kinematics (Zeni) foot strikes "
            f"differ by {gap:.1f} % of the stride (median); the cycles use {contact_source}"
        )
    return ev, contact_source, note


def _analysis_notes(rec: Recording, sig: Signals, cycles: dict[str, list[gait.Cycle]]) -> list[str]:
    """Caveats of the analysis: too few cycles, a kinematic clip, no ground contact, no cycle at all."""
    notes = []
    n_cycles = len(cycles["left"]) + len(cycles["right"])
    if 0 < n_cycles < gait.MIN_CYCLES:
        notes.append(
            f"only {n_cycles} gait cycle(s) (left {len(cycles['left'])}, right {len(cycles['right'])}): the mean "
            f"and SD are unreliable (>= {gait.MIN_CYCLES} wanted); record a longer motion"
        )
    if not rec.dynamic:
        notes.append("kinematics only: no ground reaction forces, joint moments or muscle activations")
    elif sig.foot_force is not None and not np.any(sig.foot_force[..., 2] > 0):
        notes.append("no foot-ground contact in the rollout: GRF is zero and events come from kinematics")
    if not (cycles["left"] or cycles["right"]):
        notes.append(
            "no complete gait cycle was found (need two foot strikes of one foot with a toe-off between); for a "
            "motion that is not gait, give a .mot of its coordinates as --reference (compared as a time series)"
        )
    return notes


#: A curve whose range over the cycle is below this (per unit) is constant: a locked or unmeasured coordinate,
#: whose r is noise or NaN. Such quantities are reported as not compared.
FLAT_RANGE = {"deg": 0.5, "BW": 0.01, "N*m/kg": 0.01, "W/kg": 0.01, "fraction_of_max": 0.01}
#: Both sides need at least this many cycles for statistical parametric mapping.
SPM_MIN_CYCLES = 3
SPM_ALPHA = 0.05


@dataclass(frozen=True, kw_only=True)
class Comparison:
    """Metrics of each compared quantity, the reasons others were not compared, and the SPM results."""

    metrics: dict[str, dict[str, float]]
    """Quantity -> metric name -> value (every registered metric, cycle counts, baselines, SPM summary)."""
    not_compared: dict[str, str]
    """Quantity of the reference -> why it was not compared."""
    spm_regions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Quantity -> supra-threshold clusters of the two-sample SPM t-test, as (start, end) % of the cycle."""
    notes: list[str] = field(default_factory=list)
    """Caveats of the comparison (SPM not run and why)."""


def _flat(x: np.ndarray, unit: str) -> float | None:
    """The range of ``x`` when it is below the unit's FLAT_RANGE (a constant curve), else None."""
    rng = float(np.nanmax(x) - np.nanmin(x)) if np.isfinite(x).any() else 0.0
    return rng if rng < FLAT_RANGE.get(unit, 0.0) else None


def spm_ttest(sim: np.ndarray, ref: np.ndarray, alpha: float = SPM_ALPHA) -> tuple[np.ndarray, float, list]:
    """Two-sample SPM{t} (spm1d) of cycles ``sim (C1, P)`` against ``ref (C2, P)``: (t curve (P,), critical t,
    supra-threshold clusters as (start, end) in points)."""
    import warnings

    import spm1d

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ti = spm1d.stats.ttest2(sim, ref).inference(alpha, two_tailed=True)
    return np.asarray(ti.z), float(ti.zstar), [tuple(map(float, c.endpoints)) for c in ti.clusters]


def compare(analysis: Analysis, reference: Reference) -> Comparison:
    """Per shared quantity: every registered metric of the simulated mean against the reference, plus baselines;
    SPM over the cycle where both sides have several cycles; constant curves are not compared."""
    from mm_core import registry

    metrics = {name: rec.fn for name, (_, rec) in registry.validation_metrics.items().items()}
    from mm_validate.metrics import sd_baseline_rmse

    out: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    regions: dict[str, list[tuple[float, float]]] = {}
    spm_skipped: dict[str, list[str]] = {}
    for q, ref in reference.curves.items():
        if q not in analysis.curves:
            skipped[q] = "the model or recording does not provide it"
            continue
        rows = analysis.curves[q]
        sim = np.interp(ref.percent, gait.PERCENT, rows.mean(axis=0))
        if (rng := _flat(ref.mean, ref.unit)) is not None:
            skipped[q] = (
                f"constant in the reference (range {rng:.2g} {ref.unit}): a locked or unmeasured coordinate"
            )
            continue
        if (rng := _flat(sim, ref.unit)) is not None:
            skipped[q] = f"constant in the model/recording (range {rng:.2g} {ref.unit}): a locked coordinate"
            continue
        m = {name: float(fn(sim, ref.mean, ref.sd)) for name, fn in metrics.items()}
        m["n_cycles"] = float(len(rows))
        if ref.sd is not None:
            m["baseline_rmse_sd"] = sd_baseline_rmse(ref.sd)
        if ref.cycles is not None:
            m["n_cycles_reference"] = float(len(ref.cycles))
            if len(rows) >= SPM_MIN_CYCLES and len(ref.cycles) >= SPM_MIN_CYCLES:
                refc = np.stack([np.interp(gait.PERCENT, ref.percent, c) for c in ref.cycles])
                try:
                    t, tstar, clusters = spm_ttest(rows, refc)
                except Exception as e:  # noqa: BLE001 - spm1d fails on zero variance; report, do not abort
                    spm_skipped.setdefault(f"{type(e).__name__}: {e}", []).append(q)
                else:
                    step = gait.PERCENT[1] - gait.PERCENT[0]
                    regions[q] = [(a * step, b * step) for a, b in clusters]
                    m["spm_tstar"] = tstar
                    m["spm_supra_pct"] = float(100.0 * np.mean(np.abs(t) > tstar))
            else:
                why = (
                    f"it needs >= {SPM_MIN_CYCLES} cycles on both sides "
                    f"(simulated {len(rows)}, reference {len(ref.cycles)})"
                )
                spm_skipped.setdefault(why, []).append(q)
        m.update(reference.baselines.get(q, {}))
        out[q] = m
    notes = [f"SPM not run for {', '.join(qs)}: {why}" for why, qs in spm_skipped.items()]
    return Comparison(metrics=out, not_compared=skipped, spm_regions=regions, notes=notes)


def clip_recording(clip: Any) -> Recording:
    """A kinematic recording of a ``MotionClip``."""
    return Recording(
        fps=float(clip.fps), qpos=np.asarray(clip.qpos, float), qvel=np.asarray(clip.qvel, float)
    )
