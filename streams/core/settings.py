"""The one settings model, read from ``GRIDWATCH_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import InputLimits


def project_root() -> Path | None:
    """Return the checkout this package runs from, or None when installed elsewhere."""
    candidate = Path(__file__).resolve().parents[2]  # streams/core/settings.py
    if (candidate / "deploy" / "kafka" / "pom.xml").is_file():
        return candidate
    return None


def _default_home() -> Path:
    root = project_root()
    return (root if root is not None else Path.cwd()) / ".gridwatch"


class Settings(BaseSettings):
    """Every gridwatch setting; each is also an environment variable ``GRIDWATCH_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="GRIDWATCH_", extra="ignore", frozen=True)

    bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    topic_prefix: str = Field(default="gridwatch.", description="Prefix of every topic name.")
    app_id: str = Field(
        default="gridwatch", description="Faust application id (the consumer group)."
    )
    partitions: int = Field(
        default=4, ge=1, description="Partitions of input, internal, alert and risk topics."
    )
    replication_factor: int = Field(default=1, ge=1, description="Replication of created topics.")
    web_host: str = Field(default="127.0.0.1", description="Address the worker's HTTP binds to.")
    web_port: int = Field(default=6066, ge=1, le=65535, description="Worker HTTP port.")
    home: Path = Field(
        default_factory=_default_home,
        description="Project-local state: broker data and logs, PID files (git-ignored).",
    )
    data_dir: Path | None = Field(
        default=None, description="Worker table state; defaults to <home>/worker."
    )
    kafka_port: int = Field(default=9092, ge=1, le=65535, description="Local broker port.")
    kafka_controller_port: int | None = Field(
        default=None, description="Local KRaft controller port; defaults to kafka_port + 1."
    )
    kafka_jars: Path | None = Field(
        default=None,
        description="Cache of the broker's jars; defaults to ~/.cache/gridwatch/kafka.",
    )
    kafka_heap: str = Field(default="1g", description="Local broker max heap (-Xmx).")
    max_message_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest accepted input message."
    )
    max_future_skew_s: float = Field(
        default=600.0, ge=0, description="How far in the future an event time may be."
    )
    dedup_horizon_s: float = Field(
        default=3600.0,
        ge=0,
        description="Event-time span within which a repeated event_id is a duplicate.",
    )
    dedup_max_ids: int = Field(
        default=1_000_000, ge=1, description="Most event ids remembered per worker."
    )
    create_topics: bool = Field(
        default=True, description="Whether the worker creates missing topics at start."
    )
    log_level: str = Field(default="info", description="Worker log level.")
    assets_file: Path | None = Field(
        default=None,
        description="GeoJSON registry for `gridwatch process` when --assets is absent.",
    )
    engine_config: Path | None = Field(
        default=None,
        description="Risk engine TOML (thresholds, families, lifecycle); the shipped one if unset.",
    )

    @property
    def worker_data_dir(self) -> Path:
        """Directory for the worker's table state."""
        return self.data_dir if self.data_dir is not None else self.home / "worker"

    @property
    def controller_port(self) -> int:
        """Port of the local broker's KRaft controller listener."""
        return (
            self.kafka_controller_port
            if self.kafka_controller_port is not None
            else self.kafka_port + 1
        )

    @property
    def jar_cache(self) -> Path:
        """Where resolved broker jars are cached between runs."""
        if self.kafka_jars is not None:
            return self.kafka_jars
        return Path.home() / ".cache" / "gridwatch" / "kafka"

    @property
    def input_limits(self) -> InputLimits:
        """The limits the codec enforces on input messages."""
        return InputLimits(
            max_message_bytes=self.max_message_bytes,
            max_future_skew=timedelta(seconds=self.max_future_skew_s),
        )
