"""Every topic name gridwatch uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created.

    Attributes:
        name: Full topic name, prefix included.
        partitions: Partition count; None means the configured default.
        compacted: Whether ``cleanup.policy=compact``.
        internal: Whether only gridwatch itself reads it.
    """

    name: str
    partitions: int | None = None
    compacted: bool = False
    internal: bool = False


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one prefix (default ``gridwatch.``)."""

    prefix: str = "gridwatch."

    @property
    def sensor(self) -> str:
        """Sensor readings, keyed by asset_id."""
        return f"{self.prefix}sensor"

    @property
    def hotline(self) -> str:
        """Hotline cases, keyed by service_request_id."""
        return f"{self.prefix}hotline"

    @property
    def inspection(self) -> str:
        """Inspection findings, keyed by asset_id."""
        return f"{self.prefix}inspection"

    @property
    def assets(self) -> str:
        """The asset registry (compacted), keyed by asset_id."""
        return f"{self.prefix}assets"

    @property
    def alerts(self) -> str:
        """CAP-shaped alerts, keyed by asset_id."""
        return f"{self.prefix}alerts"

    @property
    def risk(self) -> str:
        """Latest risk state per asset (compacted)."""
        return f"{self.prefix}risk"

    @property
    def acks(self) -> str:
        """Acknowledgements from the operations center, keyed by asset_id."""
        return f"{self.prefix}acks"

    @property
    def dlq(self) -> str:
        """Dead letters, keyed by the original key."""
        return f"{self.prefix}dlq"

    @property
    def events_by_asset(self) -> str:
        """Internal: every valid event, repartitioned by asset_id for the risk engine."""
        return f"{self.prefix}internal.events-by-asset"

    @property
    def hotline_unmatched(self) -> str:
        """Internal holding topic: hotline cases without asset_id, awaiting spatial matching."""
        return f"{self.prefix}internal.hotline-unmatched"

    @property
    def inputs(self) -> tuple[str, str, str]:
        """The three input topics."""
        return (self.sensor, self.hotline, self.inspection)

    def specs(self, partitions: int) -> list[TopicSpec]:
        """Every topic gridwatch needs, with how to create it."""
        return [
            TopicSpec(self.sensor, partitions),
            TopicSpec(self.hotline, partitions),
            TopicSpec(self.inspection, partitions),
            TopicSpec(self.assets, 1, compacted=True),
            TopicSpec(self.alerts, partitions),
            TopicSpec(self.risk, partitions, compacted=True),
            TopicSpec(self.acks, partitions),
            TopicSpec(self.dlq, partitions),
            TopicSpec(self.events_by_asset, partitions, internal=True),
            TopicSpec(self.hotline_unmatched, partitions, internal=True),
        ]
