"""Offline processing of an event log: the same intake, order and engine, no Kafka.

``gridwatch process`` reads JSON Lines (optionally gzipped), validates each
line with :class:`~streams.core.ingest.Intake` (as the worker's agents do),
puts events of equal event time in the canonical order with the same
:class:`~streams.core.merge.EventTimeMerge` the worker uses (the log is one
source), matches hotline cases and runs the risk engine, writing alerts as
JSON Lines. Two runs over the same log give byte-identical output, and a
worker fed the same log gives the same alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Final

from schemas import DecodeError, InputLimits, RiskState, encode
from streams.core.ingest import Accepted, Intake, Item, item_order
from streams.core.merge import EventTimeMerge
from streams.engine.config import EngineConfig
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry

# Offline there is no "now": a log is a replay, so event times are never "in the future".
_REPLAY_NOW: Final = datetime(9999, 1, 1, tzinfo=UTC)
_NO_SKEW_LIMIT: Final = timedelta(days=365 * 8000)
_LOG: Final = "log"


@dataclass
class ProcessSummary:
    """Counts of one offline run."""

    lines: int = 0
    events: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0
    unmatched: int = 0
    unknown_asset: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    risk: dict[str, RiskState] = field(default_factory=dict)


def process_log(
    lines: Iterator[tuple[int, bytes]],
    registry: AssetRegistry,
    config: EngineConfig,
    alerts_out: IO[bytes],
    *,
    max_message_bytes: int = 64 * 1024,
    invalid_out: IO[str] | None = None,
) -> ProcessSummary:
    """Run every line through intake, ordering, matching and the engine; write alerts."""
    intake = Intake(
        InputLimits(max_message_bytes=max_message_bytes, max_future_skew=_NO_SKEW_LIMIT)
    )
    pipeline = RiskPipeline(registry, config)
    merge: EventTimeMerge[Item] = EventTimeMerge(idle_wait_s=0.0, max_wait_s=None)
    merge.add_source(_LOG, 0.0)
    summary = ProcessSummary()

    def apply(item: Item) -> None:
        output = pipeline.handle(item)
        summary.duplicates += output.duplicate
        summary.late += output.late
        summary.unmatched += output.unmatched
        summary.unknown_asset += output.unknown_asset
        for alert in output.alerts:
            summary.alerts[alert.msgType] += 1
            alerts_out.write(encode(alert) + b"\n")
        if output.risk is not None:
            summary.risk[output.risk.asset_id] = output.risk

    for number, raw in lines:
        summary.lines += 1
        decision = intake.line(raw, _REPLAY_NOW)
        if not isinstance(decision, Accepted):
            error: DecodeError = decision.error
            summary.invalid[error.reason.value] += 1
            if invalid_out is not None:
                invalid_out.write(f"line {number}: {error.reason.value}: {error.detail}\n")
            continue
        summary.events += 1
        item = decision.item
        if not merge.push(_LOG, item_order(item), item, 0.0):
            apply(item)  # out of order in the log: applied where it stands
        for released in merge.release(0.0):
            apply(released)
    for released in merge.flush():
        apply(released)
    return summary


def write_risk(summary: ProcessSummary, out: IO[bytes]) -> int:
    """Write the final risk picture (latest published state per asset), sorted by asset."""
    for asset_id in sorted(summary.risk):
        out.write(encode(summary.risk[asset_id]) + b"\n")
    return len(summary.risk)
