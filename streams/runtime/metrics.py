"""Every Prometheus metric gridwatch exports, declared in one place.

Labels are bounded: kinds, reasons and topic roles, never asset ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Per-message work is tens of microseconds; anything past 100 ms is a stall.
_PROCESSING_BUCKETS = (
    0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0,
)  # fmt: skip
# Event time to published alert: seconds (pipeline latency) to minutes (late data).
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)

LEVELS = ("watch", "warning", "critical")


class Metrics:
    """The worker's metrics, registered in the registry passed in.

    Args:
        registry: Where to register; tests pass a fresh one.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.messages_received = Counter(
            "gridwatch_messages_received_total",
            "Input messages received, valid or not, by input topic role.",
            ["input"],
            registry=registry,
        )
        self.events_consumed = Counter(
            "gridwatch_events_consumed_total",
            "Valid, new input events accepted, by event kind.",
            ["kind"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "gridwatch_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason and input topic role.",
            ["reason", "input"],
            registry=registry,
        )
        self.duplicates = Counter(
            "gridwatch_duplicates_dropped_total",
            "Valid events dropped because their asset already applied that event_id, by kind.",
            ["kind"],
            registry=registry,
        )
        self.unknown_service_codes = Counter(
            "gridwatch_hotline_unknown_service_code_total",
            "Hotline cases with a service_code gridwatch does not know (kept, not rejected).",
            registry=registry,
        )
        self.hotline_matches = Counter(
            "gridwatch_hotline_match_total",
            "Hotline cases without asset_id run through spatial matching, by result.",
            ["result"],
            registry=registry,
        )
        self.engine_events = Counter(
            "gridwatch_engine_events_total",
            "Messages the risk engine applied, by kind (sensor, hotline, inspection, ack).",
            ["kind"],
            registry=registry,
        )
        self.engine_first_applied = Gauge(
            "gridwatch_engine_first_applied_timestamp_seconds",
            "Unix time at which this worker's engine first applied an event (0: not yet).",
            registry=registry,
        )
        self.engine_last_applied = Gauge(
            "gridwatch_engine_last_applied_timestamp_seconds",
            "Unix time at which this worker's engine last applied an event (0: not yet).",
            registry=registry,
        )
        self.redelivered = Counter(
            "gridwatch_engine_redelivered_total",
            "Messages delivered again (restart, rebalance or a seek back) and skipped: handled.",
            registry=registry,
        )
        self.offset_rereads = Counter(
            "gridwatch_offset_rereads_total",
            "Input partitions read again because the consumer skipped offsets "
            "(see streams/runtime/agents/offsets.py).",
            registry=registry,
        )
        self.offset_gaps = Counter(
            "gridwatch_offset_gaps_total",
            "Offsets the broker showed absent from an input partition (transaction markers, "
            "deleted records), passed by the commits.",
            registry=registry,
        )
        self.late_events = Counter(
            "gridwatch_late_events_total",
            "Events later than the allowed lateness, dead-lettered as late.",
            registry=registry,
        )
        self.unknown_asset_events = Counter(
            "gridwatch_unknown_asset_events_total",
            "Events for assets missing from the registry (processed as far as possible).",
            registry=registry,
        )
        self.alerts = Counter(
            "gridwatch_alerts_total",
            "CAP messages published, by msgType, CAP severity and asset type.",
            ["msg_type", "severity", "asset_type"],
            registry=registry,
        )
        self.risk_updates = Counter(
            "gridwatch_risk_updates_total",
            "Risk states published to the compacted risk topic.",
            registry=registry,
        )
        self.state_writes = Counter(
            "gridwatch_state_writes_total",
            "Per-asset engine states written to the changelog-backed table.",
            registry=registry,
        )
        self.registry_assets = Gauge(
            "gridwatch_registry_assets",
            "Assets in this worker's registry.",
            registry=registry,
        )
        self.assets_rejected = Counter(
            "gridwatch_assets_rejected_total",
            "Records of the assets topic rejected (invalid or poisoned) and dead-lettered.",
            ["reason"],
            registry=registry,
        )
        self.active_incidents = Gauge(
            "gridwatch_active_incidents",
            "Open incidents in the risk picture, by level.",
            ["level"],
            registry=registry,
        )
        self.assets_by_level = Gauge(
            "gridwatch_assets_by_level",
            "Assets in the risk picture by level (none: published but below watch).",
            ["level"],
            registry=registry,
        )
        for level in LEVELS:
            self.active_incidents.labels(level)
            self.assets_by_level.labels(level)
        self.assets_by_level.labels("none")
        self.stream_lag = Gauge(
            "gridwatch_stream_lag_seconds",
            "Wall clock minus the newest event time the engine applied (event-time lag).",
            registry=registry,
        )
        self.alert_latency = Histogram(
            "gridwatch_alert_latency_seconds",
            "From the event time of the event that caused an alert to its publication.",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.engine_seconds = Histogram(
            "gridwatch_engine_processing_seconds",
            "Time the risk engine takes for one event of the per-asset stream.",
            buckets=_PROCESSING_BUCKETS,
            registry=registry,
        )
        self.rerouted = Counter(
            "gridwatch_rerouted_events_total",
            "Events that arrived on another partition than their asset's (keyed or partitioned "
            "differently from asset_id): forwarded, and applied on arrival without ordering.",
            registry=registry,
        )
        self.stragglers = Counter(
            "gridwatch_stragglers_total",
            "Events out of event-time order in their own input, applied on arrival.",
            registry=registry,
        )
        self.merge_waiting = Gauge(
            "gridwatch_merge_waiting_events",
            "Events held by the event-time merge until every input has moved past them.",
            registry=registry,
        )
        self.merge_passed_over = Counter(
            "gridwatch_merge_passed_over_total",
            "Times an input that showed no progress for GRIDWATCH_MAX_WAIT_S was passed over.",
            registry=registry,
        )
        self.progress_markers = Counter(
            "gridwatch_progress_markers_total",
            "Progress markers the hotline router sent to the repartition topic.",
            registry=registry,
        )
        self.stalled_partitions = Gauge(
            "gridwatch_stalled_partitions",
            "Assigned input partitions with lag and no progress for GRIDWATCH_STALL_TIMEOUT_S.",
            registry=registry,
        )
        self.ingest_seconds = Histogram(
            "gridwatch_ingest_processing_seconds",
            "Time to decode, validate and route one input message.",
            buckets=_PROCESSING_BUCKETS,
            registry=registry,
        )


FAUST_PREFIX = "faust"


def metric_names() -> set[str]:
    """Base names of every metric a worker exports (counters without ``_total``).

    gridwatch's own and Faust's sensor metrics (prefix ``faust_``), for the
    deploy checks (Grafana panels, Prometheus rules).
    """
    from faust.sensors.prometheus import FaustMetrics

    registry = CollectorRegistry()
    Metrics(registry)
    FaustMetrics.create(registry, FAUST_PREFIX)
    return {family.name for family in registry.collect()}
