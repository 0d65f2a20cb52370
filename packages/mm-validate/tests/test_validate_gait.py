from __future__ import annotations

import numpy as np
import pytest

from mm_validate import gait


def square_contact(T: int, strikes: list[int], offs: list[int], level: float = 1.0) -> np.ndarray:
    fz = np.zeros(T)
    for a, b in zip(strikes, offs, strict=True):
        fz[a:b] = level
    return fz


def test_force_events_found_exactly() -> None:
    strikes, offs = [10, 120, 230, 340], [75, 185, 295, 405]
    fz = square_contact(500, strikes, offs)
    ev = gait.events_from_force(fz, fps=100.0, threshold=0.05)
    assert ev.strikes.tolist() == strikes
    assert ev.offs.tolist() == offs


def test_force_events_ignore_blips_gaps_and_partial_stance() -> None:
    # Stance already under way at frame 0 (no strike), a 2-frame spike in swing, a 2-frame dropout in stance.
    fz = square_contact(400, [0, 100, 210], [60, 170, 280])
    fz[85:87] = 1.0
    fz[140:142] = 0.0
    ev = gait.events_from_force(fz, fps=100.0, threshold=0.05)
    assert ev.strikes.tolist() == [100, 210]
    assert ev.offs.tolist() == [60, 170, 280]


def test_cycles_and_normalisation() -> None:
    ev = gait.Events(strikes=np.array([10, 120, 230, 340]), offs=np.array([75, 185, 295]))
    cycles = gait.segment_cycles(ev, "right", (0, 400), fps=100.0)
    assert [(c.start, c.stop, c.off) for c in cycles] == [(10, 120, 75), (120, 230, 185), (230, 340, 295)]
    assert cycles[0].stance_pct == pytest.approx(100 * 65 / 110)
    x = np.arange(400, dtype=float)
    curve = gait.normalise(x, cycles[0])
    assert curve.shape == (101,)
    np.testing.assert_allclose(curve, np.linspace(10, 120, 101))


def test_cycles_split_at_segment_and_drop_outliers() -> None:
    ev = gait.Events(strikes=np.array([10, 120, 230, 600, 710]), offs=np.array([75, 185, 500, 675]))
    # 230 -> 600 is a pause (too long against the median): dropped; segment (0, 300) keeps the first two.
    assert len(gait.segment_cycles(ev, "left", (0, 800), fps=100.0)) == 3
    assert len(gait.segment_cycles(ev, "left", (0, 300), fps=100.0)) == 2


def test_walking_vs_running_from_contact() -> None:
    T = 440
    walk = np.stack([square_contact(T, [0, 110, 220, 330], [66, 176, 286, 396]),
                     square_contact(T, [55, 165, 275, 385], [121, 231, 341, 440])], axis=1) > 0.5  # fmt: skip
    run = np.stack([square_contact(T, [0, 70, 140, 210], [25, 95, 165, 235]),
                    square_contact(T, [35, 105, 175, 245], [60, 130, 200, 270])], axis=1) > 0.5  # fmt: skip
    cyc = [
        gait.Cycle(side="right", start=0, stop=110, off=66),
        gait.Cycle(side="right", start=110, stop=220, off=176),
    ]
    assert gait.gait_type(cyc, [], walk) == "walking"
    rcyc = [
        gait.Cycle(side="right", start=0, stop=70, off=25),
        gait.Cycle(side="right", start=70, stop=140, off=95),
    ]
    assert gait.gait_type(rcyc, [], run) == "running"
    assert gait.gait_type(rcyc, [], None) == "running"  # stance 36 % < 50 %: no double support possible


def test_zeni_events_on_synthetic_kinematics() -> None:
    fps, stride, T = 100.0, 1.0, 500
    t = np.arange(T) / fps
    prog = np.tile([1.0, 0.0, 0.0], (T, 1))
    pelvis = np.stack([1.3 * t, np.zeros(T), np.ones(T)], axis=1)
    # Heel leads the pelvis most at phase 0 (strike), toe trails most at phase 0.6 (toe-off).
    heel = pelvis + np.stack([0.3 * np.cos(2 * np.pi * t / stride), np.zeros(T), np.zeros(T)], axis=1)
    toe = pelvis + np.stack([0.3 * np.cos(2 * np.pi * (t / stride - 0.1)), np.zeros(T), np.zeros(T)], axis=1)
    ev = gait.events_from_kinematics(heel, toe, pelvis, prog, fps)
    assert ev.strikes.tolist() == [100, 200, 300, 400]
    assert ev.offs.tolist() == [60, 160, 260, 360, 460]


def _alternating(T: int, stride: int, stance: int) -> np.ndarray:
    """Contact flags (T, 2) (left, right): right strikes at 0, stride, ...; left half a stride later."""
    r = square_contact(T, list(range(0, T, stride)), [min(T, a + stance) for a in range(0, T, stride)])
    half = stride // 2
    left = square_contact(
        T, list(range(half, T, stride)), [min(T, a + stance) for a in range(half, T, stride)]
    )
    return np.stack([left, r], axis=1) > 0.5


def _cycles(side: str, first: int, stride: int, stance: int, n: int) -> list[gait.Cycle]:
    return [
        gait.Cycle(
            side=side,
            start=first + k * stride,
            stop=first + (k + 1) * stride,
            off=first + k * stride + stance,
        )
        for k in range(n)
    ]


def test_support_phases_by_hand() -> None:
    # Stance 62 of 100 frames per leg, legs half a stride apart: double support 2 x 12 = 24 %, no flight.
    left, right = _cycles("left", 50, 100, 62, 3), _cycles("right", 0, 100, 62, 4)
    double, flight = gait.support_phases(left, right)
    assert double == pytest.approx(24.0) and flight == 0.0
    # Running: stance 35 of 100 -> flight 2 x 15 = 30 %, no double support.
    left, right = _cycles("left", 50, 100, 35, 3), _cycles("right", 0, 100, 35, 4)
    assert gait.support_phases(left, right) == pytest.approx((0.0, 30.0))
    assert gait.gait_type(left, right) == "running"


def test_walk_with_spurious_flight_frames_is_walking() -> None:
    # A turning walk: 24 % double support, plus a foot flagged off the ground for a few frames by a speed
    # threshold (4 % of the time both feet "off"). More double support than flight: walking. The old rule
    # (any flight above 2 %) said running.
    T = 400
    contact = _alternating(T, 100, 62)
    for a in range(0, T, 100):
        contact[a + 40 : a + 45, :] = False
    left, right = _cycles("left", 50, 100, 62, 3), _cycles("right", 0, 100, 62, 3)
    double, flight = gait.support_phases(left, right, contact)
    assert flight == pytest.approx(100 * 10 / 250) and double > 15  # both legs known in frames 50-300
    assert gait.gait_type(left, right, contact) == "walking"
    # Stance of 45 % from the events alone would have guessed running; both legs' events say walking when they
    # overlap with double support, and running with flight.
    assert gait.gait_type(_cycles("left", 50, 100, 62, 3), _cycles("right", 0, 100, 62, 3)) == "walking"
