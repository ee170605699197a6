from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import DeadLetterReason, HotlineCase, InputLimits
from streams.core.dedup import DuplicateFilter
from streams.core.ingest import Duplicate, Forward, Ingest, Reject, Route
from tests.constants import NOW
from tests.factories import hotline_factory, inspection_factory, sensor_factory, to_bytes

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_repeated_id_within_horizon_is_a_duplicate():
    dedup = DuplicateFilter(timedelta(minutes=10), max_ids=100)
    assert not dedup.is_duplicate("a", T0)
    assert dedup.is_duplicate("a", T0 + timedelta(minutes=5))


def test_ids_older_than_the_horizon_are_forgotten():
    dedup = DuplicateFilter(timedelta(minutes=10), max_ids=100)
    dedup.is_duplicate("old", T0)
    dedup.is_duplicate("new", T0 + timedelta(minutes=11))
    assert len(dedup) == 1
    assert not dedup.is_duplicate("old", T0 + timedelta(minutes=11))


def test_memory_is_bounded_by_max_ids():
    dedup = DuplicateFilter(timedelta(days=1), max_ids=3)
    for i in range(10):
        dedup.is_duplicate(f"id-{i}", T0 + timedelta(seconds=i))
    assert len(dedup) == 3
    assert dedup.is_duplicate("id-9", T0)
    assert not dedup.is_duplicate("id-0", T0)


def test_max_ids_must_be_positive():
    with pytest.raises(ValueError, match="max_ids"):
        DuplicateFilter(timedelta(minutes=1), max_ids=0)


@pytest.fixture
def ingest() -> Ingest:
    return Ingest(InputLimits(), dedup_horizon=timedelta(hours=1), dedup_max_ids=10_000)


def test_sensor_and_inspection_are_forwarded_by_asset(ingest):
    for wire in (sensor_factory(), inspection_factory()):
        decision = ingest.handle(to_bytes(wire), NOW)
        assert isinstance(decision, Forward)
        assert decision.route is Route.BY_ASSET
        assert decision.key == wire["asset_id"]


def test_hotline_with_asset_goes_by_asset(ingest):
    wire = hotline_factory(asset_id="wm-007")
    decision = ingest.handle(to_bytes(wire), NOW)
    assert isinstance(decision, Forward)
    assert (decision.route, decision.key) == (Route.BY_ASSET, "wm-007")


def test_hotline_without_asset_goes_to_holding_path_keyed_by_case(ingest):
    wire = hotline_factory(asset_id=None)
    decision = ingest.handle(to_bytes(wire), NOW)
    assert isinstance(decision, Forward)
    assert decision.route is Route.UNMATCHED_HOTLINE
    assert decision.key == wire["service_request_id"]


def test_unknown_service_code_is_kept_and_flagged(ingest):
    decision = ingest.handle(to_bytes(hotline_factory(service_code="noise_complaint")), NOW)
    assert isinstance(decision, Forward)
    assert isinstance(decision.event, HotlineCase)
    assert decision.unknown_service_code


def test_unknown_metric_is_valid(ingest):
    decision = ingest.handle(to_bytes(sensor_factory(metric="vibration_mm_s")), NOW)
    assert isinstance(decision, Forward)


def test_second_copy_is_a_duplicate(ingest):
    raw = to_bytes(sensor_factory())
    assert isinstance(ingest.handle(raw, NOW), Forward)
    assert isinstance(ingest.handle(raw, NOW), Duplicate)
    assert ingest.remembered_ids == 1


def test_invalid_message_is_rejected_and_not_remembered(ingest):
    decision = ingest.handle(b"{", NOW)
    assert isinstance(decision, Reject)
    assert decision.error.reason is DeadLetterReason.NOT_JSON
    assert ingest.remembered_ids == 0
