"""The Faust agents' per-message and per-batch logic, driven in-process with fakes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from schemas import Alert, Asset, DeadLetter, InputLimits, decode_model, encode
from streams.core.ingest import Ingest
from streams.core.settings import Settings
from streams.core.topics import Topics
from streams.engine.config import load_config
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry
from streams.runtime.agents.common import DeadLetters
from streams.runtime.agents.ingest import IngestAgent
from streams.runtime.agents.risk import (
    AckAgent,
    EngineAgent,
    MatchAgent,
    RegistryFeed,
    TableStateStore,
)
from streams.runtime.metrics import Metrics
from tests.engine_support import run
from tests.factories import sensor_factory, to_bytes
from tests.fakes import FakeMessage, FakeOutbox, FixedClock, messages
from tests.scenarios import minutes, water_main_burst

TOPICS = Topics("t.")


class Shell:
    """Every agent of one worker, wired to one fake outbox, as the Faust app wires them."""

    def __init__(self, assets: list[dict[str, Any]]) -> None:
        self.metrics = Metrics(CollectorRegistry())
        self.clock = FixedClock()
        self.outbox = FakeOutbox()
        self.dead_letters = DeadLetters(self.outbox, TOPICS.dlq, self.metrics, self.clock)
        ingest = Ingest(
            InputLimits(max_future_skew=timedelta(days=3650)),
            dedup_horizon=timedelta(hours=1),
            dedup_max_ids=10_000,
        )
        self.ingest = {
            role: IngestAgent(
                role, TOPICS, ingest, self.metrics, self.clock, self.outbox, self.dead_letters
            )
            for role in ("sensor", "hotline", "inspection")
        }
        self.pipeline = RiskPipeline(AssetRegistry([]), load_config())
        self.assets_table = {
            f["properties"]["asset_id"].encode(): encode(Asset.from_feature(f)) for f in assets
        }
        self.registry = RegistryFeed(self.pipeline, self.metrics)
        self.registry.read_from(self.assets_table)
        self.table: dict[bytes, bytes] = {}
        self.store = TableStateStore(self.table)
        self.pipeline.engine.store = self.store
        self.matcher = MatchAgent(
            TOPICS, self.pipeline, self.registry, self.metrics, self.outbox, self.dead_letters
        )
        self.engine = EngineAgent(
            TOPICS,
            self.pipeline,
            self.store,
            self.registry,
            self.metrics,
            self.clock,
            self.outbox,
            self.dead_letters,
        )

    def sample(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def drive(*coroutines: Any) -> None:
    """Run agent coroutines one after the other, as one agent's loop would."""

    async def in_order() -> None:
        for coroutine in coroutines:
            await coroutine

    asyncio.run(in_order())


def by_asset(shell: Shell, start: int = 0) -> Iterator[FakeMessage]:
    """What the ingest and matcher agents sent to the per-asset stream, as messages."""
    for offset, sent in enumerate(shell.outbox.to(TOPICS.events_by_asset)[start:], start):
        yield FakeMessage(sent.topic, 0, offset, sent.key, sent.value)


def feed_inputs(shell: Shell, events: list[dict[str, Any]]) -> None:
    """Each event through its ingest agent, and a held case through the matcher at once.

    That is the order a paced replay gives: each event is through the pipeline
    before the next one arrives.
    """

    async def go() -> None:
        held = 0
        for offset, event in enumerate(events):
            topic = getattr(TOPICS, event["kind"])
            key = (event.get("asset_id") or event["service_request_id"]).encode()
            await shell.ingest[event["kind"]].handle(
                FakeMessage(topic, 0, offset, key, to_bytes(event))
            )
            for sent in shell.outbox.to(TOPICS.hotline_unmatched)[held:]:
                await shell.matcher.handle(FakeMessage(sent.topic, 0, held, sent.key, sent.value))
                held += 1

    drive(go())


def test_ingest_routes_valid_rejects_invalid_and_drops_duplicates() -> None:
    shell = Shell([])
    agent = shell.ingest["sensor"]
    good = to_bytes(sensor_factory())
    batch = messages(TOPICS.sensor, [(b"wm-1", good), (b"wm-1", b"{not json"), (b"wm-1", good)])
    drive(*(agent.handle(m) for m in batch))

    forwarded = shell.outbox.to(TOPICS.events_by_asset)
    assert len(forwarded) == 1
    event = orjson.loads(good)
    assert forwarded[0].key == event["asset_id"].encode()
    assert forwarded[0].timestamp is not None
    dead = [decode_model(s.value, DeadLetter) for s in shell.outbox.to(TOPICS.dlq)]
    assert [(d.reason.value, d.offset) for d in dead] == [("not_json", 1)]
    assert base64.b64decode(dead[0].value_b64 or "") == b"{not json"
    assert shell.sample("gridwatch_duplicates_dropped_total", kind="sensor") == 1
    assert shell.sample("gridwatch_messages_received_total", input="sensor") == 3


def test_a_bug_in_ingest_becomes_one_processing_error_dead_letter() -> None:
    shell = Shell([])
    agent = shell.ingest["sensor"]

    class Broken:
        remembered_ids = 0

        def handle(self, raw: bytes | None, now: Any) -> Any:
            raise RuntimeError("boom")

    agent._ingest = Broken()  # type: ignore[assignment]
    drive(agent.handle(FakeMessage(TOPICS.sensor, 2, 7, b"k", b"{}")))
    (dead,) = [decode_model(s.value, DeadLetter) for s in shell.outbox.to(TOPICS.dlq)]
    assert dead.reason.value == "processing_error"
    assert "RuntimeError: boom" in dead.detail
    assert (dead.partition, dead.offset) == (2, 7)


def test_the_agents_in_process_give_the_offline_alerts() -> None:
    scenario = water_main_burst()
    offline = run(scenario)
    assert offline.alerts
    shell = Shell(scenario.assets)
    feed_inputs(shell, scenario.events)
    drive(shell.engine.handle_batch(list(by_asset(shell))))
    live = [decode_model(s.value, Alert) for s in shell.outbox.to(TOPICS.alerts)]
    assert [encode(a) for a in live] == [encode(a) for a in offline.alerts]
    # Every asset that changed was persisted once, and restores to the same state.
    assert set(shell.table) == {b"wm-1"}
    assert shell.store.get("wm-1") is shell.store.cache["wm-1"]
    shell.store.forget()
    restored = shell.store.get("wm-1")
    assert restored is not None
    assert restored.snapshot() == orjson.loads(shell.table[b"wm-1"])


def test_redelivered_messages_change_nothing() -> None:
    scenario = water_main_burst()
    shell = Shell(scenario.assets)
    feed_inputs(shell, scenario.events)
    batch = list(by_asset(shell))
    drive(shell.engine.handle_batch(batch))
    sent = len(shell.outbox.sent)
    shell.store.forget()  # as after a rebalance: the table is the truth
    drive(shell.engine.handle_batch(batch))
    assert len(shell.outbox.sent) == sent
    assert shell.sample("gridwatch_engine_redelivered_total") == len(batch)


def test_a_late_event_is_dead_lettered_as_late() -> None:
    scenario = water_main_burst()
    shell = Shell(scenario.assets)
    first = scenario.events[0]
    last = scenario.events[-1]
    stale = dict(first, event_id="stale-1")
    feed_inputs(shell, [first, last, stale])
    drive(shell.engine.handle_batch(list(by_asset(shell))))
    (dead,) = [decode_model(s.value, DeadLetter) for s in shell.outbox.to(TOPICS.dlq)]
    assert dead.reason.value == "late"
    assert dead.topic == TOPICS.events_by_asset
    assert shell.sample("gridwatch_late_events_total") == 1


def test_matcher_attaches_the_nearest_fitting_asset_or_counts_unmatched() -> None:
    scenario = water_main_burst()
    shell = Shell(scenario.assets)
    call = scenario.call(minutes(1), "water_leak", 31.2301, 121.48)
    far = scenario.call(minutes(1), "water_leak", 30.0, 120.0)
    feed_inputs(shell, [call, far])
    forwarded = [orjson.loads(s.value) for s in shell.outbox.to(TOPICS.events_by_asset)]
    assert [(f["service_request_id"], f["asset_id"]) for f in forwarded] == [
        (call["service_request_id"], "wm-1")
    ]
    assert shell.sample("gridwatch_hotline_match_total", result="unmatched") == 1


def test_ack_agent_forwards_valid_and_dead_letters_invalid() -> None:
    shell = Shell([])
    agent = AckAgent(
        Settings(max_future_skew_s=10 * 365 * 86400), TOPICS, shell.clock, shell.outbox,
        shell.dead_letters,
    )  # fmt: skip
    ack = {
        "ack_id": "a-1",
        "asset_id": "wm-1",
        "acknowledged_by": "duty officer",
        "event_time": "2026-11-27T08:30:00+00:00",
    }
    batch = messages(TOPICS.acks, [(b"wm-1", orjson.dumps(ack)), (b"wm-1", b"[]")])
    drive(*(agent.handle(m) for m in batch))
    (forwarded,) = shell.outbox.to(TOPICS.events_by_asset)
    assert orjson.loads(forwarded.value)["ack_id"] == "a-1"
    (dead,) = [decode_model(s.value, DeadLetter) for s in shell.outbox.to(TOPICS.dlq)]
    assert dead.offset == 1


def test_registry_is_rebuilt_only_after_a_change() -> None:
    scenario = water_main_burst()
    shell = Shell(scenario.assets)
    shell.registry.refresh()
    first = shell.pipeline.registry
    shell.registry.refresh()
    assert shell.pipeline.registry is first
    assert len(first) == len(scenario.assets)
    shell.assets_table.pop(b"wm-2")
    drive(shell.registry.on_record(object()))
    shell.registry.refresh()
    assert shell.pipeline.registry is not first
    assert "wm-2" not in shell.pipeline.registry
    assert shell.sample("gridwatch_registry_assets") == len(scenario.assets) - 1


@pytest.mark.parametrize("value", [None, b"", b"\xff\xfe"])
def test_engine_dead_letters_what_it_cannot_decode(value: bytes | None) -> None:
    shell = Shell([])
    drive(shell.engine.handle_batch([FakeMessage(TOPICS.events_by_asset, 1, 5, b"x", value)]))
    (dead,) = [decode_model(s.value, DeadLetter) for s in shell.outbox.to(TOPICS.dlq)]
    assert (dead.partition, dead.offset) == (1, 5)
