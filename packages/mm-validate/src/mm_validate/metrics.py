"""Curve metrics: simulated cycle mean against the reference mean (and SD), all on the reference's points.

Each is registered through ``mm_validation_metrics`` with the signature
``fn(sim (P,), ref_mean (P,), ref_sd (P,) | None) -> float``.
"""

from __future__ import annotations

import math

import numpy as np


def pearson_r(sim: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray | None = None) -> float:
    """Pearson correlation of the shapes (offset and scale free); NaN if either curve is flat."""
    a, b = sim - sim.mean(), ref_mean - ref_mean.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / den) if den > 1e-12 else math.nan


def rmse(sim: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray | None = None) -> float:
    """Root-mean-square difference, in the quantity's unit."""
    return float(np.sqrt(np.mean((sim - ref_mean) ** 2)))


def in_band(sim: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray | None = None) -> float:
    """Fraction of the cycle inside mean ± 1 SD of the reference; NaN without SD."""
    if ref_sd is None:
        return math.nan
    return float(np.mean(np.abs(sim - ref_mean) <= ref_sd))


def _best_lag(sim: np.ndarray, ref_mean: np.ndarray) -> tuple[float, float]:
    """(r, lag in % of the cycle) at the best circular shift of ``sim``; positive lag = sim late."""
    # 0 % and 100 % are the same instant of a periodic cycle: drop the last point before shifting.
    s, r = sim[:-1], ref_mean[:-1]
    best = (-math.inf, 0.0)
    n = len(s)
    for k in range(-(n // 2), n // 2 + 1):
        c = pearson_r(np.roll(s, -k), r)
        if not math.isnan(c) and c > best[0]:
            best = (c, 100.0 * k / n)
    return best if best[0] > -math.inf else (math.nan, math.nan)


def lag_r(sim: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray | None = None) -> float:
    """Pearson r after the best circular time shift (phase-shift-aware shape agreement)."""
    return _best_lag(sim, ref_mean)[0]


def lag_pct(sim: np.ndarray, ref_mean: np.ndarray, ref_sd: np.ndarray | None = None) -> float:
    """The best circular shift in % of the cycle (positive: the simulation is late)."""
    return _best_lag(sim, ref_mean)[1]


def sd_baseline_rmse(ref_sd: np.ndarray) -> float:
    """RMSE a typical subject has from the group mean (the RMS of the SD): a human-variability baseline."""
    return float(np.sqrt(np.mean(ref_sd**2)))


#: name -> (fn, higher_is_better, description); registered as ValidationMetric records by the plugin.
METRICS = {
    "r": (pearson_r, True, "Pearson r of simulated mean and reference mean"),
    "rmse": (rmse, False, "RMSE against the reference mean (quantity units)"),
    "in_band": (in_band, True, "fraction of the cycle inside the reference mean ± SD"),
    "lag_r": (lag_r, True, "Pearson r at the best circular time shift"),
    "lag_pct": (lag_pct, False, "best circular time shift, % of the cycle (positive: simulation late)"),
}
