"""The kafka-python clients gridwatch's tools open, built in one place.

Every tool (replay, record, assets load, the simulator's ``--to-kafka``,
the demo) gets its producer or consumer here, so connection settings
(servers, TLS and SASL from ``settings.kafka_security``) are decided once.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from streams.broker.admin import broker_answers, open_kafka_client, unreachable
from streams.broker.auth import kafka_python_auth
from streams.core.settings import Settings

MAX_REQUEST_BYTES = 1_048_576
"""Largest produce request the tools send (the broker's default message limit)."""

BATCH_BYTES = 262_144
"""Per-partition batch size of the tools' producers.

kafka-python's default (16 KiB, about 50 events) wakes its sender thread for
every few dozen records; with 256 KiB `replay --max-speed` went from 17.5k to
28k events/s on the development machine (the memory is bounded by the
producer's 32 MiB buffer).
"""


def client_options(settings: Settings) -> dict[str, Any]:
    """kafka-python options every client of gridwatch's tools shares: servers, TLS, SASL."""
    return {
        "bootstrap_servers": settings.bootstrap.split(","),
        **kafka_python_auth(settings.kafka_security),
    }


def require_broker(settings: Settings) -> None:
    """Fail fast, with a hint, when no broker answers at the configured address.

    Raises:
        BrokerUnavailableError: No broker answered within 5 s.
        BrokerAuthenticationError: The broker refused the credentials, or speaks
            another security protocol.
    """
    security = settings.kafka_security
    if not broker_answers(settings.bootstrap, timeout_s=5.0, security=security):
        raise unreachable(
            settings.bootstrap,
            security,
            f"no Kafka broker answers at {settings.bootstrap}; start one with `gridwatch kafka up`",
        )


def open_producer(
    settings: Settings,
    *,
    client_id: str,
    linger_ms: int = 20,
    max_request_size: int = MAX_REQUEST_BYTES,
    batch_size: int = BATCH_BYTES,
) -> Any:
    """An idempotent producer that waits for every in-sync replica (``acks=all``).

    Idempotence: a batch retried after a broker restart is written once and
    in order.

    Raises:
        BrokerUnavailableError: The broker cannot be reached.
        BrokerAuthenticationError: The broker refused the credentials.
    """
    return open_kafka_client(
        KafkaProducer,
        settings.bootstrap,
        security=settings.kafka_security,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_request_size=max_request_size,
        batch_size=batch_size,
        client_id=client_id,
    )


def open_consumer(settings: Settings, *topics: str, client_id: str, **options: Any) -> Any:
    """A group-less consumer without auto-commit (the tools read, they never commit).

    Raises:
        BrokerUnavailableError: The broker cannot be reached.
        BrokerAuthenticationError: The broker refused the credentials.
    """
    return open_kafka_client(
        KafkaConsumer,
        settings.bootstrap,
        *topics,
        security=settings.kafka_security,
        group_id=None,
        enable_auto_commit=False,
        client_id=client_id,
        **options,
    )
