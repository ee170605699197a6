"""The per-asset signal objects on their own."""

from __future__ import annotations

import random

from streams.engine.config import load_config
from streams.engine.signals import HotlinePressure, RobustBaseline

CONFIG = load_config()
T0 = 1_795_000_000.0


def test_baseline_judges_nothing_during_warm_up():
    baseline = RobustBaseline()
    for i in range(CONFIG.baseline_warmup - 1):
        baseline.update(5, 100.0 + i, 0.05, 4.0, with_global=True, day=1)
        assert baseline.expected(5, CONFIG.baseline_warmup, allow_global=True) is None
    baseline.update(5, 100.0, 0.05, 4.0, with_global=True, day=1)
    assert baseline.expected(5, CONFIG.baseline_warmup, allow_global=True) is not None


def test_baseline_is_robust_to_a_single_outlier():
    rng = random.Random(3)
    baseline = RobustBaseline()
    for i in range(200):
        baseline.update(7, rng.gauss(50.0, 1.0), 0.05, 4.0, with_global=False, day=i % 3)
    before = baseline.expected(7, 12, allow_global=False)
    baseline.update(7, 5000.0, 0.05, 4.0, with_global=False, day=9)
    after = baseline.expected(7, 12, allow_global=False)
    assert before is not None
    assert after is not None
    assert abs(after[0] - before[0]) < 1.0  # the location barely moves
    assert after[1] < 3 * before[1]


def test_baseline_keeps_hours_apart():
    baseline = RobustBaseline()
    for i in range(30):
        baseline.update(8, 30.0, 0.05, 4.0, with_global=False, day=i // 15)  # rush hour
        baseline.update(12, 80.0, 0.05, 4.0, with_global=False, day=i // 15)  # midday
    band_rush = baseline.band(8, 12)
    band_noon = baseline.band(12, 12)
    assert band_rush == (30.0, 30.0)
    assert band_noon == (80.0, 80.0)


def test_an_hour_is_usual_only_after_two_days():
    baseline = RobustBaseline()
    for _ in range(50):
        baseline.update(10, 70.0, 0.05, 4.0, with_global=False, day=1)
    assert baseline.band(10, 12) is None
    baseline.update(10, 70.0, 0.05, 4.0, with_global=False, day=2)
    assert baseline.band(10, 12) == (70.0, 70.0)


def test_weekend_falls_back_to_the_weekday_hour_until_warm():
    baseline = RobustBaseline()
    for i in range(20):
        weekday_nine = RobustBaseline.slot(False, 9)
        baseline.update(weekday_nine, 60.0, 0.05, 4.0, with_global=False, day=i // 10)
    assert baseline.band(RobustBaseline.slot(True, 9), 12) == (60.0, 60.0)


def test_hotline_pressure_decays_and_forgets_closed_and_old_cases():
    pressure = HotlinePressure()
    pressure.observe(T0, "SR-1", "water", True, "h1", "water_leak call SR-1")
    pressure.observe(T0 + 10, "SR-1", "water", True, "h1b", "water_leak call SR-1")  # same case
    fresh = pressure.factors(T0 + 10, CONFIG)
    later = pressure.factors(T0 + 900, CONFIG)
    assert len(fresh) == 1
    assert "1 open complaint" in fresh[0].detail
    assert later[0].contribution < fresh[0].contribution
    assert pressure.factors(T0 + CONFIG.hotline_window_s + 1, CONFIG) == []
    pressure.observe(T0 + 20, "SR-2", "water", True, "h2", "call")
    pressure.observe(T0 + 30, "SR-2", "water", False, "h3", "call closed")
    assert "1 open complaint" in pressure.factors(T0 + 40, CONFIG)[0].detail
