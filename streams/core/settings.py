"""The one settings model, read from ``GRIDWATCH_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import Field, model_validator
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
        default="",
        description="Application id: the consumer group and the prefix of every internal and "
        "changelog topic; by default the topic prefix followed by 'app', so two deployments "
        "with different prefixes never share state.",
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
    idle_wait_s: float = Field(
        default=0.25,
        gt=0,
        le=1.0,
        description="Longest an event waits for a quiet, caught-up input before it is applied "
        "(Kafka Streams' max.task.idle.ms).",
    )
    max_wait_s: float = Field(
        default=60.0,
        gt=0,
        description="An input that shows no progress for this long while events wait for it "
        "is passed over (counted in gridwatch_merge_passed_over_total).",
    )
    stall_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A worker holding a partition with lag and no progress for this long is "
        "unhealthy, and exits non-zero so its supervisor restarts it.",
    )
    session_timeout_s: float = Field(
        default=10.0,
        ge=6.0,
        description="Kafka group session timeout: how soon a killed worker's partitions move.",
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

    @model_validator(mode="after")
    def _derive_app_id(self) -> Settings:
        if not self.app_id:
            # Frozen model: set the derived default once, during validation.
            object.__setattr__(self, "app_id", f"{self.topic_prefix}app")
        return self

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
