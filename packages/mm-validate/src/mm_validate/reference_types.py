"""What a reference is: gait-cycle curves (mean ± SD over 0-100 % of the cycle) and the error its readers raise.

Below both :mod:`mm_validate.reference` (datasets, CSVs, the ``--reference`` dispatcher) and
:mod:`mm_validate.trial` (lab trials), so neither imports the other's module to name these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    cycles: np.ndarray | None = None
    """cycles: every cycle of a lab trial, both legs, for statistical parametric mapping (C, P); None for
    published group curves."""


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
    cycles_per_side: dict[str, int] | None = None
    """A lab trial's complete cycles per leg (``left``, ``right``); None for published group curves."""
    gait_type: str = ""
    """``walking`` or ``running`` of a lab trial (from flight vs double support); empty when unknown."""
    event_method: str = ""
    """How a lab trial's gait events were found (empty for published group curves)."""
    conventions: dict[str, str] = field(default_factory=dict)
    """Quantity -> the column it was read from, its unit conversion and sign (lab trials)."""
    notes: tuple[str, ...] = ()
    """Caveats found while reading the reference (event methods disagreeing, too few cycles...)."""
