"""The one settings model, read from ``GRIDWATCH_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import InputLimits
from streams.core.kafka_security import KafkaSecurity, SaslMechanism, SecurityProtocol


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


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

    # Errors never echo what was given: the input may hold GRIDWATCH_SASL_PASSWORD.
    model_config = SettingsConfigDict(
        env_prefix="GRIDWATCH_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

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
    security_protocol: Annotated[SecurityProtocol, BeforeValidator(_upper)] = Field(
        default="PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_mechanism: Annotated[SaslMechanism, BeforeValidator(_upper)] = Field(
        default="SCRAM-SHA-512",
        description="SASL mechanism with SASL_*: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN.",
    )
    sasl_username: str | None = Field(default=None, description="SASL user name (SASL_*).")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (SASL_*); never shown in logs or errors."
    )
    ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA certificates that sign the brokers' (SSL, SASL_SSL); "
        "the system's trust store if unset.",
    )
    ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS (SSL, SASL_SSL)."
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="PEM private key of ssl_certfile, if not inside it."
    )
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="min.insync.replicas of every topic gridwatch creates (with acks=all, a "
        "write succeeds only once this many replicas have it); the broker's default if unset. "
        "Production: replication_factor 3 and min_insync_replicas 2.",
    )
    web_host: str = Field(default="127.0.0.1", description="Address the worker's HTTP binds to.")
    web_port: int = Field(default=6066, ge=1, le=65535, description="Worker HTTP port.")
    # The HTTP API's guards (streams.core.http_guard).
    api_token: SecretStr | None = Field(
        default=None,
        description="When set, every HTTP view but /health and /health/live wants "
        "'Authorization: Bearer <token>' (never logged).",
    )
    api_rate_per_s: float = Field(
        default=20.0, gt=0, description="Sustained HTTP requests per second per client address."
    )
    api_burst: int = Field(
        default=40, ge=1, description="HTTP requests a client address may send at once."
    )
    api_max_body_bytes: int = Field(
        default=1024,
        ge=0,
        description="Largest HTTP request body accepted (the API is GET only); larger is 413.",
    )
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

    @model_validator(mode="after")
    def _check_security(self) -> Settings:
        # Refuse a half-configured connection, or unreadable TLS files, now rather
        # than as a timeout at the first request.
        self.kafka_security.ssl_context()
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        """How every Kafka client of gridwatch authenticates and encrypts."""
        return KafkaSecurity(
            protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password,
            ssl_cafile=self.ssl_cafile,
            ssl_certfile=self.ssl_certfile,
            ssl_keyfile=self.ssl_keyfile,
        )

    @model_validator(mode="after")
    def _check_min_insync_replicas(self) -> Settings:
        # More in-sync replicas than replicas would refuse every acks=all write.
        if self.min_insync_replicas is not None and (
            self.min_insync_replicas > self.replication_factor
        ):
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) cannot exceed "
                f"replication_factor ({self.replication_factor})"
            )
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
