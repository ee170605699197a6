"""Every topic name gridwatch uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.core.settings import Settings


STATE_TABLE = "asset-state"
"""Name of the per-asset engine state table; its changelog is ``<app id>-asset-state-changelog``."""


STATE_OWNER_FIELD = "topics"
"""The state snapshot field naming the topic prefix it was built from (one deployment's)."""


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
    """Topic names for one prefix (default ``gridwatch.``) and application id.

    Public topics carry the prefix; internal ones the application id (which by
    default is the prefix followed by ``app``), as Kafka Streams prefixes its
    internal topics with ``application.id``.
    """

    prefix: str = "gridwatch."
    app_id: str = ""

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        """The topic names a deployment's settings give."""
        return cls(settings.topic_prefix, settings.app_id)

    @property
    def application(self) -> str:
        """The application id internal topics are named after."""
        return self.app_id or f"{self.prefix}app"

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
        """Internal: hotline cases (and misrouted events) on their asset's partition."""
        return f"{self.application}-events-by-asset"

    @property
    def state_changelog(self) -> str:
        """Internal: the changelog of the per-asset engine state table."""
        return f"{self.application}-{STATE_TABLE}-changelog"

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
            TopicSpec(self.state_changelog, partitions, compacted=True, internal=True),
        ]
