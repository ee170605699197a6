"""Offline processing of an event log: the same ingest policy and engine, no Kafka.

``gridwatch process`` reads JSON Lines (optionally gzipped), validates and
de-duplicates each line with :class:`~streams.core.ingest.Ingest` (as the ingest
agents do), matches hotline cases and runs the risk engine, writing alerts as
JSON Lines. Two runs over the same log give byte-identical output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO

from schemas import DecodeError, InputLimits, RiskState, encode
from streams.core.ingest import Duplicate, Forward, Ingest
from streams.engine.config import EngineConfig
from streams.engine.pipeline import RiskPipeline
from streams.engine.registry import AssetRegistry

# Offline there is no "now": a log is a replay, so event times are never "in the future".
_REPLAY_NOW = datetime(9999, 1, 1, tzinfo=UTC)
_NO_SKEW_LIMIT = timedelta(days=365 * 8000)


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
    """Run every line through ingest, matching and the engine; write alerts as JSON Lines."""
    ingest = Ingest(
        InputLimits(max_message_bytes=max_message_bytes, max_future_skew=_NO_SKEW_LIMIT),
        dedup_horizon=timedelta(hours=1),
        dedup_max_ids=1_000_000,
    )
    pipeline = RiskPipeline(registry, config)
    summary = ProcessSummary()
    for number, raw in lines:
        summary.lines += 1
        decision = ingest.handle(raw, _REPLAY_NOW)
        if isinstance(decision, Duplicate):
            summary.duplicates += 1
            continue
        if not isinstance(decision, Forward):
            error: DecodeError = decision.error
            summary.invalid[error.reason.value] += 1
            if invalid_out is not None:
                invalid_out.write(f"line {number}: {error.reason.value}: {error.detail}\n")
            continue
        summary.events += 1
        output = pipeline.handle(decision.event)
        summary.late += output.late
        summary.unmatched += output.unmatched
        summary.unknown_asset += output.unknown_asset
        for alert in output.alerts:
            summary.alerts[alert.msgType] += 1
            alerts_out.write(encode(alert) + b"\n")
        if output.risk is not None:
            summary.risk[output.risk.asset_id] = output.risk
    return summary


def write_risk(summary: ProcessSummary, out: IO[bytes]) -> int:
    """Write the final risk picture (latest published state per asset), sorted by asset."""
    for asset_id in sorted(summary.risk):
        out.write(encode(summary.risk[asset_id]) + b"\n")
    return len(summary.risk)
