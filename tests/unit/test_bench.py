"""The pure parts of `gridwatch bench pipeline`: percentiles, and alerts matched to their events."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from streams.cli.main import cli
from streams.core.topics import Topics
from streams.lab.pipeline import WorkerTiming, latencies, percentile, simulate_city


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=200))
def test_percentiles_are_ordered_and_observed(values):
    p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
    assert p50 is not None
    assert p99 is not None
    assert min(values) <= p50 <= p99 <= max(values)
    assert p50 in values
    assert p99 in values


def test_latency_is_from_sending_the_causing_event_to_reading_the_alert():
    shanghai = timezone(timedelta(hours=8))
    sent_at = {
        datetime(2026, 11, 23, 6, 0, 0, tzinfo=shanghai): 100.0,
        datetime(2026, 11, 23, 6, 0, 1, tzinfo=shanghai): 101.0,
    }
    # The alert names its event time in UTC: the same instant matches.
    arrived = [("2026-11-22T22:00:01+00:00", 101.25), ("2026-11-22T22:00:00Z", 100.5)]
    assert latencies(sent_at, arrived) == [pytest.approx(0.25), pytest.approx(0.5)]
    # An alert whose event was never sent in this run is not counted.
    assert latencies(sent_at, [("2026-11-23T07:00:00+08:00", 500.0)]) == []


def test_the_bench_city_has_the_events_asked_for_in_event_time_order():
    city = simulate_city(1200, seed=3, incidents=4)
    assert city.events == 1200
    assert city.assets == 20
    times = [one.event_time for one in city.routed]
    assert times == sorted(times)
    assert all(one.event_time.tzinfo is not None for one in city.routed)
    assert {one.topic for one in city.routed} <= set(Topics("unrouted.").inputs) | {
        Topics("unrouted.").acks
    }
    assert min(times) >= datetime(2026, 1, 1, tzinfo=UTC)


def test_a_worker_run_counts_from_the_settled_group_when_it_did_most_of_the_work():
    settled_early = WorkerTiming(
        first_received_s=5.0,
        first_applied_s=6.0,
        done_s=25.0,
        applied=60_000,
        settled_s=10.0,
        applied_when_settled=10_000,
    )
    assert settled_early.steady
    assert settled_early.steady_events == 50_000
    assert settled_early.events_per_s == pytest.approx(50_000 / 15.0, abs=0.1)
    assert settled_early.backlog_events_per_s == pytest.approx(60_000 / 20.0, abs=0.1)


def test_a_backlog_gone_before_the_group_settled_is_timed_whole():
    # The second worker got its partitions after the first had applied everything.
    settled_late = WorkerTiming(
        first_received_s=5.0,
        first_applied_s=6.0,
        done_s=7.0,
        applied=3_000,
        settled_s=8.0,
        applied_when_settled=3_000,
    )
    assert not settled_late.steady
    assert settled_late.steady_events == 0
    assert settled_late.events_per_s == settled_late.backlog_events_per_s == 1500.0


def test_peak_rss_is_read_from_proc():
    from streams.lab.scaling import peak_rss_mb

    mine = peak_rss_mb(os.getpid())
    assert mine is not None
    assert mine > 10  # this interpreter with pytest loaded
    assert peak_rss_mb(2**22 + 7) is None  # no such process


def test_a_city_of_a_given_size():
    city = simulate_city(900, seed=2, incidents=0, assets=300, duration=timedelta(minutes=3))
    assert city.assets == 300
    assert city.events == 900


def test_an_idle_wait_the_worker_would_refuse_is_refused_before_anything_starts():
    result = CliRunner().invoke(cli, ["bench", "pipeline", "--idle-wait-s", "0"])
    assert result.exit_code == 2  # a usage error, not a worker that exits with status 2
    assert "--idle-wait-s" in result.output
