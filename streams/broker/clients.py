"""The kafka-python clients gridwatch's tools open, built in one place.

Every tool (replay, record, assets load, the simulator's ``--to-kafka``,
the demo) gets its producer or consumer here, so connection settings are
decided once.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from streams.broker.admin import BrokerUnavailableError, broker_answers
from streams.core.settings import Settings

MAX_REQUEST_BYTES = 1_048_576
"""Largest produce request the tools send (the broker's default message limit)."""


def client_options(settings: Settings) -> dict[str, Any]:
    """kafka-python options every client of gridwatch's tools shares."""
    return {"bootstrap_servers": settings.bootstrap.split(",")}


def require_broker(settings: Settings) -> None:
    """Fail fast, with a hint, when no broker answers at the configured address.

    Raises:
        BrokerUnavailableError: No broker answered within 5 s.
    """
    if not broker_answers(settings.bootstrap, timeout_s=5.0):
        raise BrokerUnavailableError(
            f"no Kafka broker answers at {settings.bootstrap}; start one with `gridwatch kafka up`"
        )


def open_producer(
    settings: Settings,
    *,
    client_id: str,
    linger_ms: int = 20,
    max_request_size: int = MAX_REQUEST_BYTES,
) -> Any:
    """An idempotent producer that waits for every in-sync replica (``acks=all``).

    Idempotence: a batch retried after a broker restart is written once and
    in order.

    Raises:
        BrokerUnavailableError: The broker cannot be reached.
    """
    try:
        return KafkaProducer(
            **client_options(settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_request_size=max_request_size,
            client_id=client_id,
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc


def open_consumer(settings: Settings, *topics: str, client_id: str, **options: Any) -> Any:
    """A group-less consumer without auto-commit (the tools read, they never commit).

    Raises:
        BrokerUnavailableError: The broker cannot be reached.
    """
    try:
        return KafkaConsumer(
            *topics,
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            client_id=client_id,
            **options,
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {settings.bootstrap}: {exc}") from exc
