"""Gait events, cycle segmentation and time normalisation.

Events come from the vertical ground reaction force of each foot when a physics rollout provides it; else, for a
free-root motion, from the feet's height and speed (contact = heel or toe near the floor and nearly still); else
(fixed root, feet in the air) from Zeni et al. 2008: foot strike at the most anterior heel position relative to the
pelvis, toe-off at the most posterior toe position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CYCLE_POINTS = 101
PERCENT = np.linspace(0.0, 100.0, CYCLE_POINTS)
#: Event methods whose foot strikes differ by more than this (median, % of the stride) are reported, in a
#: recording and in a lab trial.
EVENT_TOLERANCE_PCT = 5.0
#: Fewer cycles than this (both legs, recording or lab trial) are reported as too few for a reliable mean and SD.
MIN_CYCLES = 3


@dataclass(frozen=True, kw_only=True)
class Events:
    """Foot strikes and toe-offs of one foot (frame indices, ascending)."""

    strikes: np.ndarray
    """strikes: first frame of each stance (K,)."""
    offs: np.ndarray
    """offs: first frame of each swing (M,)."""


@dataclass(frozen=True, kw_only=True)
class Cycle:
    """One gait cycle of one foot: strike to the next strike of the same foot."""

    side: str
    """``left`` or ``right``."""
    start: int
    """Frame of the foot strike."""
    stop: int
    """Frame of the next foot strike of the same foot."""
    off: int
    """Frame of the toe-off inside the cycle."""

    @property
    def stance_pct(self) -> float:
        return 100.0 * (self.off - self.start) / (self.stop - self.start)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))


def events_from_force(
    fz: np.ndarray, fps: float, threshold: float, min_stance_s: float = 0.05, min_swing_s: float = 0.05
) -> Events:
    """Foot strike where the vertical force ``fz (T,)`` rises above ``threshold`` (N or BW), toe-off where it falls.

    Contact runs shorter than ``min_stance_s`` and gaps shorter than ``min_swing_s`` are noise and are merged away.
    A stance already under way at the first frame gives no strike (its start is unknown); likewise at the end.
    """
    if fz.ndim != 1:
        raise ValueError(f"fz must be 1-D (T,), got shape {fz.shape}")
    contact = fz > threshold
    min_swing, min_stance = max(1, round(min_swing_s * fps)), max(1, round(min_stance_s * fps))
    for a, b in _runs(~contact):  # fill short gaps inside a stance
        if a > 0 and b < len(contact) and b - a < min_swing:
            contact[a:b] = True
    for a, b in _runs(contact):  # drop short blips
        if b - a < min_stance:
            contact[a:b] = False
    runs = _runs(contact)
    strikes = np.array([a for a, _ in runs if a > 0], dtype=int)
    offs = np.array([b for _, b in runs if b < len(contact)], dtype=int)
    return Events(strikes=strikes, offs=offs)


def _peaks(x: np.ndarray, fps: float, min_period_s: float) -> np.ndarray:
    from scipy.signal import find_peaks

    if len(x) < 3:
        return np.zeros(0, dtype=int)
    spread = float(np.percentile(x, 95) - np.percentile(x, 5))
    peaks, _ = find_peaks(x, distance=max(1, int(min_period_s * fps)), prominence=0.25 * spread)
    return peaks.astype(int)


def progression(
    pelvis: np.ndarray, fps: float, fallback: np.ndarray, spans: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Unit horizontal direction of travel (T, 3) from the ``pelvis (T, 3)`` displacement over +-0.5 s within each
    span; ``fallback (3,)`` where the pelvis moves slower than 0.1 m/s."""
    out = np.tile(fallback, (len(pelvis), 1))
    w = max(1, int(round(0.5 * fps)))
    for a, b in spans:
        for t in range(a, b):
            d = pelvis[min(b - 1, t + w)] - pelvis[max(a, t - w)]
            d[2] = 0.0
            n = np.linalg.norm(d)
            if n > 0.1 * (min(b - 1, t + w) - max(a, t - w)) / fps:  # faster than 0.1 m/s
                out[t] = d / n
    return out


def events_from_kinematics(
    heel: np.ndarray,
    toe: np.ndarray,
    pelvis: np.ndarray,
    progression: np.ndarray,
    fps: float,
    min_period_s: float = 0.4,
) -> Events:
    """Zeni's method on positions ``heel, toe, pelvis (T, 3)`` and the unit direction of travel ``(T, 3)``.

    ``min_period_s``: shortest stride (same-foot strike to strike) accepted, s.
    """
    h = np.sum((heel - pelvis) * progression, axis=1)
    k = np.sum((toe - pelvis) * progression, axis=1)
    return Events(strikes=_peaks(h, fps, min_period_s), offs=_peaks(-k, fps, min_period_s))


def contact_from_kinematics(
    heel: np.ndarray, toe: np.ndarray, fps: float, height_m: float = 0.03, speed_ms: float = 1.0
) -> np.ndarray:
    """Foot contact flags (T,) from landmark positions ``heel, toe (T, 3)``: a landmark is on the ground when it is
    within ``height_m`` of its lowest level (5th percentile over the recording) and moves slower than ``speed_ms``
    horizontally. For free-root motions, where the feet really meet the floor; it sees running's flight phase."""
    on = np.zeros(len(heel), dtype=bool)
    for p in (heel, toe):
        z = p[:, 2] - np.percentile(p[:, 2], 5)
        v = (
            np.linalg.norm(np.gradient(p[:, :2], 1.0 / fps, axis=0), axis=1)
            if len(p) > 1
            else np.zeros(len(p))
        )
        on |= (z < height_m) & (v < speed_ms)
    return on


def segment_cycles(
    events: Events, side: str, span: tuple[int, int], fps: float, max_s: float = 2.5
) -> list[Cycle]:
    """Cycles between consecutive strikes inside ``span`` [start, stop) with exactly one toe-off between them.

    Cycles longer than ``max_s`` or deviating from the median duration by more than 40 % are dropped (a pause,
    a stumble or a missed event).
    """
    a, b = span
    s = events.strikes[(events.strikes >= a) & (events.strikes < b)]
    cycles = []
    for c0, c1 in zip(s[:-1], s[1:], strict=True):
        offs = events.offs[(events.offs > c0) & (events.offs < c1)]
        if len(offs) == 1 and (c1 - c0) / fps <= max_s:
            cycles.append(Cycle(side=side, start=int(c0), stop=int(c1), off=int(offs[0])))
    if cycles:
        med = np.median([c.stop - c.start for c in cycles])
        cycles = [c for c in cycles if abs((c.stop - c.start) - med) <= 0.4 * med]
    return cycles


def normalise(x: np.ndarray, cycle: Cycle, points: int = CYCLE_POINTS) -> np.ndarray:
    """Resample ``x (T,)`` over one cycle onto ``points`` equally spaced samples of 0-100 % (linear)."""
    seg = x[cycle.start : cycle.stop + 1]
    return np.interp(np.linspace(0.0, 1.0, points), np.linspace(0.0, 1.0, len(seg)), seg)


def strike_gap_pct(a: Events, b: Events) -> float:
    """Median |difference| between each foot strike of ``a`` and the nearest of ``b``, in % of ``a``'s median
    stride (strike to strike); NaN when either has too few strikes."""
    if len(a.strikes) < 2 or len(b.strikes) < 1:
        return math.nan
    d = [np.min(np.abs(b.strikes - s)) for s in a.strikes]
    return float(100.0 * np.median(d) / np.median(np.diff(a.strikes)))


def support_phases(
    left: list[Cycle], right: list[Cycle], contact: np.ndarray | None = None
) -> tuple[float, float] | None:
    """(double support, flight) in % of the time both legs' state is known; None when it never is.

    ``contact (T, 2)`` (left, right) flags give the state inside the cycles; without them each cycle's own events
    do (stance from its strike to its toe-off, swing to the next strike).
    """
    cycles = {"left": left, "right": right}
    stop = max((c.stop for c in left + right), default=0)
    state = np.full((stop, 2), -1, dtype=np.int8)  # -1 unknown, 0 swing, 1 stance
    for i, side in enumerate(("left", "right")):
        for c in cycles[side]:
            if contact is not None:
                state[c.start : c.stop, i] = contact[c.start : c.stop, i]
            else:
                state[c.start : c.off, i] = 1
                state[c.off : c.stop, i] = 0
    known = (state >= 0).all(axis=1)
    if not known.any():
        return None
    s = state[known]
    return 100.0 * float(np.mean(s.sum(axis=1) == 2)), 100.0 * float(np.mean(s.sum(axis=1) == 0))


def gait_type(left: list[Cycle], right: list[Cycle], contact: np.ndarray | None = None) -> str:
    """``running`` when there is more flight (both feet off the ground) than double support, else ``walking``.

    Decided from contact flags ``(T, 2)`` when given, else from both legs' events (:func:`support_phases`); a
    flight of under 2 % of the time is noise. Only when the legs' states never overlap in time (one leg's cycles
    alone) is it guessed from the mean stance (< 50 % of the cycle: no double support possible).
    """
    cycles = left + right
    if not cycles:
        return "unknown"
    phases = support_phases(left, right, contact)
    if phases is not None:
        double, flight = phases
        return "running" if flight > max(double, 2.0) else "walking"
    return "running" if np.mean([c.stance_pct for c in cycles]) < 50.0 else "walking"
