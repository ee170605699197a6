"""The learned detector on its own, and as the judge of metrics without a rule."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.engine.config import EngineConfig, LearnedSettings, MetricRule, load_config
from streams.engine.signals import SensorSeries
from streams.engine.signals.learned import Finding, LearnedDetector

CONFIG = load_config()
SETTINGS = CONFIG.learned
T0 = datetime(2026, 3, 2, tzinfo=UTC)
FIVE_MIN = 300
DAY = 288  # five-minute readings per day

Series = Callable[[int, datetime], float]


def run(
    series: Series, readings: int, step_s: int = FIVE_MIN, detector: LearnedDetector | None = None
) -> list[tuple[int, Finding]]:
    """Feed ``readings`` readings; the (reading number, finding) pairs raised."""
    detector = detector or LearnedDetector()
    found = []
    for k in range(readings):
        t = T0 + timedelta(seconds=step_s * k)
        finding = detector.observe(t.timestamp(), series(k, t), t.hour, t.toordinal(), SETTINGS)
        if finding is not None:
            found.append((k, finding))
    return found


def noisy(seed: int, spike_at: int | None = None, size: float = 80.0) -> Series:
    rng = random.Random(seed)
    return lambda k, t: 20 + rng.gauss(0, 1) + (size if k == spike_at else 0.0)


def test_the_shipped_configuration_is_the_settings_default() -> None:
    # One frozen configuration: risk.toml states every knob, with the documented defaults.
    assert LearnedSettings() == SETTINGS


def test_nothing_is_judged_during_the_warm_up_of_readings_and_of_a_day() -> None:
    rng = random.Random(5)
    wild = {10, 150, 250}  # before 200 readings, then before one day of event time
    assert run(lambda k, t: 20 + rng.gauss(0, 1) + (500 if k in wild else 0), DAY) == []


def test_a_spike_after_the_warm_up_is_one_finding_at_once() -> None:
    at = 3 * DAY + 50
    found = run(noisy(2, spike_at=at), 4 * DAY)
    assert [k for k, _ in found] == [at]
    assert found[0][1].kind in ("beyond_range", "new_level")
    assert found[0][1].detail.startswith("98.54 ")  # 20 + noise + 80


def test_one_finding_per_episode_then_a_refractory_period() -> None:
    rng = random.Random(3)
    start = 3 * DAY

    def storm(k: int, t: datetime) -> float:
        # Ten readings of ever larger spikes: one episode.
        return 20 + rng.gauss(0, 1) + (50 * (k - start + 1) if start <= k < start + 10 else 0)

    found = run(storm, 4 * DAY)
    assert [k for k, _ in found] == [start]


def test_a_level_shift_is_found_where_it_starts() -> None:
    rng = random.Random(3)
    at = 3 * DAY + 50
    found = run(lambda k, t: 20 + rng.gauss(0, 1) + (15 if k >= at else 0), 4 * DAY)
    assert found
    assert found[0][0] == at


def test_a_series_that_starts_to_flap_is_an_unusual_sequence() -> None:
    rng = random.Random(4)

    def flapping(k: int, t: datetime) -> float:
        # Hour-long on/off phases for three days, then on/off at every reading.
        high = (k // 12) % 2 == 1 if k < 3 * DAY else k % 2 == 1
        return (100.0 if high else 0.0) + rng.gauss(0, 1)

    found = run(flapping, 4 * DAY)
    assert [f.kind for _, f in found] == ["unusual_sequence"]
    assert 3 * DAY <= found[0][0] < 3 * DAY + 30


def test_a_job_at_the_same_hour_every_night_is_learnt_not_alerted() -> None:
    rng = random.Random(1)

    def nightly(k: int, t: datetime) -> float:
        return 20 + rng.gauss(0, 1) + (60 if t.hour == 3 and t.minute < 10 else 0)

    found = run(nightly, 14 * DAY)
    # Two weeks of a 60-unit spike every night at 03:00: at most one finding.
    assert len(found) <= 1


def test_a_job_every_hour_is_learnt_not_a_flood() -> None:
    # The CPU series of the issue: a spike at the top of every hour (1,271 alerts before).
    rng = random.Random(3)

    def hourly(k: int, t: datetime) -> float:
        return 10 + rng.gauss(0, 1) + (70 + rng.gauss(0, 3) if t.minute < 5 else 0)

    assert run(hourly, 14 * DAY) == []


def test_a_healthy_noisy_series_with_a_daily_cycle_stays_almost_silent() -> None:
    # One reading a minute, like the simulated city's heat pipes, for four days.
    total = 0
    for seed in range(5):
        rng = random.Random(seed)

        def heat(k: int, t: datetime, rng: random.Random = rng) -> float:
            hour = t.hour + t.minute / 60
            day = 0.5 - 0.5 * math.cos((hour - 4) / 24 * 2 * math.pi)
            return 85 + 3 * (1 - day) + rng.gauss(0, 0.6)

        total += len(run(heat, 4 * 1440, step_s=60))
    assert total <= 3  # 20 series-days; README reports the measured rate


def test_memory_stays_bounded_on_a_long_wandering_series() -> None:
    rng = random.Random(9)
    level = [0.0]

    def walk(k: int, t: datetime) -> float:
        level[0] += rng.gauss(0, 1)
        return level[0]

    detector = LearnedDetector()
    run(walk, 30_000, detector=detector)
    size = len(orjson.dumps(detector.snapshot()))
    assert size < 20_000, size


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(1, 4 * DAY - 1),
    spikes=st.lists(st.integers(0, 4 * DAY - 1), max_size=6),
)
def test_snapshot_and_restore_continue_exactly(seed: int, cut: int, spikes: list[int]) -> None:
    def make() -> Series:
        rng = random.Random(seed)
        return lambda k, t: 20 + rng.gauss(0, 1) + (90 * (1 + k % 3) if k in spikes else 0)

    whole = run(make(), 4 * DAY)
    series = make()
    first = LearnedDetector()
    before = [(k, f) for k, f in run(series, cut, detector=first)]
    restored = LearnedDetector.restore(orjson.loads(orjson.dumps(first.snapshot())))
    after = []
    for k in range(cut, 4 * DAY):
        t = T0 + timedelta(seconds=FIVE_MIN * k)
        finding = restored.observe(t.timestamp(), series(k, t), t.hour, t.toordinal(), SETTINGS)
        if finding is not None:
            after.append((k, finding))
    assert before + after == whole


# -- as the judge of a sensor series


AT = 3 * DAY + 20


def feed(
    series: SensorSeries, config: EngineConfig, rule: MetricRule | None, spike: float
) -> list[str]:
    """Three days and a bit of five-minute readings, a spike at ``AT``; its learned factors."""
    rng = random.Random(7)
    names: list[str] = []
    at = AT
    for k in range(3 * DAY + 40):
        t = T0 + timedelta(seconds=FIVE_MIN * k)
        value = 30 + rng.gauss(0, 1) + (spike if k == at else 0)
        slot = t.hour  # a weekday's hour slot
        factors = series.observe(
            t.timestamp(), value, f"e{k}", slot, rule, None, config, t.toordinal()
        )
        if k == at:
            names = [
                f"{f.name}@{f.contribution:g}" for f in factors if f.name.startswith("learned:")
            ]
    return names


def test_a_metric_without_a_rule_is_judged_by_the_learned_detector() -> None:
    series = SensorSeries("vib-1", "vibration_mm_s", "structural")
    assert feed(series, CONFIG, None, 60.0) == [
        f"learned:vibration_mm_s@{CONFIG.contributions['watch']:g}"
    ]


def test_on_a_metric_with_a_rule_the_learned_signal_is_off_corroborates_or_opens() -> None:
    rule = MetricRule(direction="above", watch=1000.0)  # never crossed here
    assert feed(SensorSeries("c-1", "cable_temp_c", "power"), CONFIG, rule, 60.0) == []
    corroborate = replace(CONFIG, learned=replace(SETTINGS, rule_metrics="corroborate"))
    names = feed(SensorSeries("c-1", "cable_temp_c", "power"), corroborate, rule, 60.0)
    contribution = SETTINGS.corroborate_contribution
    assert names == [f"learned:cable_temp_c@{contribution:g}"]
    assert CONFIG.min_corroboration <= contribution < CONFIG.level_starts["watch"]
    opening = replace(CONFIG, learned=replace(SETTINGS, rule_metrics="open"))
    names = feed(SensorSeries("c-1", "cable_temp_c", "power"), opening, rule, 60.0)
    assert names == [f"learned:cable_temp_c@{CONFIG.contributions['watch']:g}"]


def test_sensor_series_snapshot_keeps_the_learned_detector() -> None:
    series = SensorSeries("vib-1", "vibration_mm_s", "structural")
    feed(series, CONFIG, None, 0.0)
    restored = SensorSeries.restore(orjson.loads(orjson.dumps(series.snapshot())))
    assert series.learned is not None
    assert restored.learned is not None
    assert restored.learned.snapshot() == series.learned.snapshot()


def test_extreme_finite_readings_neither_crash_nor_poison_the_state() -> None:
    rng = random.Random(11)
    extremes = {300: 1.7e308, 301: -1.7e308, 400: 5e-324, 500: 1e200}

    def wild(k: int, t: datetime) -> float:
        return extremes.get(k, 20 + rng.gauss(0, 1))

    detector = LearnedDetector()
    run(wild, 3 * DAY, detector=detector)
    snapshot = orjson.loads(orjson.dumps(detector.snapshot()))
    restored = LearnedDetector.restore(snapshot)
    assert snapshot == orjson.loads(orjson.dumps(restored.snapshot()))
    assert "NaN" not in repr(detector.snapshot())
    assert "inf" not in orjson.dumps(detector.snapshot()).decode()


def test_the_learned_section_is_checked_and_optional(tmp_path: Path) -> None:
    shipped = (
        Path(load_config.__code__.co_filename).parent.parent / "data" / "risk.toml"
    ).read_text()
    section = shipped.index("[learned]")
    end = shipped.index("\n[", section + 1)
    without = tmp_path / "without.toml"
    without.write_text(shipped[:section] + shipped[end + 1 :])
    assert load_config(without).learned == LearnedSettings()
    typo = shipped[:end] + "\ntypo_knob = 1" + shipped[end:]
    unknown_mode = shipped.replace('rule_metrics = "off"', 'rule_metrics = "sometimes"')
    for text in (typo, unknown_mode):
        broken = tmp_path / "broken.toml"
        broken.write_text(text)
        with pytest.raises(ValueError, match="invalid engine configuration"):
            load_config(broken)
    tuned = tmp_path / "tuned.toml"
    tuned.write_text(shipped.replace('rule_metrics = "off"', 'rule_metrics = "corroborate"'))
    assert load_config(tuned).learned.rule_metrics == "corroborate"
