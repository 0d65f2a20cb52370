from __future__ import annotations

import math

import numpy as np
import pytest

from mm_core import get_validation_metric
from mm_validate import metrics

P = np.linspace(0, 100, 101)
REF = 30 * np.sin(2 * np.pi * P / 100)


def test_r_and_rmse() -> None:
    assert metrics.pearson_r(2 * REF + 5, REF) == pytest.approx(1.0)
    assert metrics.pearson_r(-REF, REF) == pytest.approx(-1.0)  # a sign error shows as r = -1
    assert metrics.rmse(REF + 3, REF) == pytest.approx(3.0)
    assert math.isnan(metrics.pearson_r(np.ones(101), REF))


def test_in_band() -> None:
    sd = np.full(101, 2.0)
    assert metrics.in_band(REF + 1.0, REF, sd) == 1.0
    assert metrics.in_band(REF + 3.0, REF, sd) == 0.0
    off = REF.copy()
    off[:50] += 5
    assert metrics.in_band(off, REF, sd) == pytest.approx(51 / 101)
    assert math.isnan(metrics.in_band(REF, REF, None))


def test_lag_found() -> None:
    late = 30 * np.sin(2 * np.pi * (P - 10) / 100)  # the same curve 10 % later
    assert metrics.pearson_r(late, REF) < 0.85
    assert metrics.lag_r(late, REF) == pytest.approx(1.0, abs=1e-9)
    assert metrics.lag_pct(late, REF) == pytest.approx(10.0)


def test_metrics_registered() -> None:
    for name in ("r", "rmse", "in_band", "lag_r", "lag_pct"):
        rec = get_validation_metric(name)
        assert np.isfinite(rec.fn(REF, REF, np.ones(101)))
    assert not get_validation_metric("rmse").higher_is_better
