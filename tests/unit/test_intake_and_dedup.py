"""Intake (validation of one message) and the engine's per-asset duplicate memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas import EVENT_ADAPTER, Acknowledgement, DeadLetterReason, HotlineCase, InputLimits
from streams.core.ingest import Accepted, Intake, Rejected, item_id, item_order
from streams.engine.config import load_config
from streams.engine.dedup import RecentIds, id_hash
from streams.engine.pipeline import RiskPipeline
from streams.engine.state import AssetState
from tests.constants import NOW
from tests.engine_support import registry_of
from tests.factories import hotline_factory, inspection_factory, sensor_factory, to_bytes
from tests.scenarios import WATER_MAIN

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def intake() -> Intake:
    return Intake(InputLimits())


def test_events_are_accepted_with_their_asset(intake):
    for wire in (sensor_factory(), inspection_factory(), hotline_factory(asset_id="wm-007")):
        decision = intake.event(to_bytes(wire), NOW)
        assert isinstance(decision, Accepted)
        assert decision.item.asset_id == wire["asset_id"]


def test_a_case_without_asset_is_accepted_for_matching(intake):
    decision = intake.event(to_bytes(hotline_factory(asset_id=None)), NOW)
    assert isinstance(decision, Accepted)
    assert isinstance(decision.item, HotlineCase)
    assert decision.item.asset_id is None


def test_unknown_service_code_is_kept_and_flagged(intake):
    decision = intake.event(to_bytes(hotline_factory(service_code="noise_complaint")), NOW)
    assert isinstance(decision, Accepted)
    assert decision.unknown_service_code


def test_unknown_metric_is_valid(intake):
    assert isinstance(
        intake.event(to_bytes(sensor_factory(metric="vibration_mm_s")), NOW), Accepted
    )


def test_invalid_message_is_rejected_with_its_reason(intake):
    decision = intake.event(b"{", NOW)
    assert isinstance(decision, Rejected)
    assert decision.error.reason is DeadLetterReason.NOT_JSON


def test_a_log_line_may_be_an_acknowledgement_but_an_event_topic_takes_none(intake):
    ack = (
        b'{"kind":"ack","ack_id":"a1","asset_id":"wm-1","acknowledged_by":"x",'
        b'"event_time":"2026-11-27T08:00:00+00:00"}'
    )
    line = intake.line(ack, NOW)
    assert isinstance(line, Accepted)
    assert isinstance(line.item, Acknowledgement)
    assert item_id(line.item) == "ack:a1"
    rejected = intake.event(ack, NOW)
    assert isinstance(rejected, Rejected)
    assert rejected.error.reason is DeadLetterReason.UNKNOWN_KIND
    assert isinstance(intake.ack(ack, NOW), Accepted)


def test_a_bug_on_one_message_becomes_a_internal_error(intake, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("streams.core.ingest.decode_event", explode)
    decision = intake.event(to_bytes(sensor_factory()), NOW)
    assert isinstance(decision, Rejected)
    assert decision.error.reason is DeadLetterReason.INTERNAL_ERROR
    assert "RuntimeError: boom" in decision.error.detail


def test_order_key_puts_kinds_in_a_fixed_order_at_one_time():
    at = T0.isoformat()
    items = [
        EVENT_ADAPTER.validate_python(w)
        for w in (inspection_factory(event_time=at), sensor_factory(event_time=at))
    ]
    assert sorted(items, key=item_order)[0].kind == "sensor"


def test_recent_ids_forget_beyond_the_horizon_and_the_bound():
    recent = RecentIds()
    t = T0.timestamp()
    for i in range(5):
        recent.remember(id_hash(f"e{i}"), t + i, t + i, horizon_s=600, max_ids=3)
    assert len(recent) == 3
    assert not recent.seen(id_hash("e0"))
    assert recent.seen(id_hash("e4"))
    recent.remember(id_hash("late"), t + 2000, t + 2000, horizon_s=600, max_ids=3)
    assert not recent.seen(id_hash("e4"))
    restored = RecentIds.restore(recent.snapshot())
    assert restored.seen(id_hash("late"))
    assert len(restored) == len(recent)


def test_the_engine_drops_a_repeated_event_id_per_asset_and_remembers_it_in_its_state():
    pipeline = RiskPipeline(registry_of([WATER_MAIN]), load_config())
    wire = sensor_factory(asset_id="wm-1", event_time=T0.isoformat())
    event = EVENT_ADAPTER.validate_python(wire)
    assert not pipeline.handle(event).duplicate
    assert pipeline.handle(event).duplicate
    state = pipeline.engine.store.get("wm-1")
    assert state is not None
    restored = AssetState.restore(state.snapshot())
    assert restored.recent.seen(id_hash(wire["event_id"]))
    later = sensor_factory(
        asset_id="wm-1", event_time=(T0 + timedelta(hours=2)).isoformat(), event_id="later"
    )
    pipeline.handle(EVENT_ADAPTER.validate_python(later))
    again = pipeline.handle(event)
    assert (again.duplicate, again.late) == (False, True)  # beyond the horizon: late
