"""Broker administration through kafka-python: probes and topic creation."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from streams.core.topics import TopicSpec

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS: Final = 36


class BrokerUnavailableError(RuntimeError):
    """No Kafka broker answered at the configured address."""


@dataclass(frozen=True, slots=True)
class TopicOutcome:
    """What ``ensure_topics`` did for one topic."""

    name: str
    created: bool
    partitions: int
    compacted: bool
    warning: str | None = None


def _any_port_open(bootstrap: str, timeout_s: float) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """Return True if a Kafka broker answers a metadata request at ``bootstrap``."""
    # A plain connect first: refused ports fail fast, without a Kafka client.
    if not _any_port_open(bootstrap, timeout_s):
        return False
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            request_timeout_ms=max(int(timeout_s * 1000), 1000),
            bootstrap_timeout_ms=max(int(timeout_s * 1000), 1000),
            metadata_max_age_ms=1000,
            client_id="gridwatch-probe",
        )
    except KafkaError:
        return False
    try:
        consumer.topics()
    except KafkaError:
        return False
    finally:
        consumer.close()
    return True


def wait_for_broker(bootstrap: str, timeout_s: float) -> None:
    """Block until a broker answers a metadata request.

    Raises:
        BrokerUnavailableError: When none answered within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if broker_answers(bootstrap, timeout_s=min(5.0, max(timeout_s, 1.0))):
            return
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(
                f"no Kafka broker answered at {bootstrap} within {timeout_s}s"
            )
        time.sleep(0.5)


@contextmanager
def admin_client(bootstrap: str) -> Iterator[Any]:
    """A kafka-python admin client, closed on exit.

    Raises:
        BrokerUnavailableError: When the broker cannot be reached.
    """
    try:
        client = KafkaAdminClient(
            bootstrap_servers=bootstrap.split(","),
            client_id="gridwatch-admin",
            request_timeout_ms=30_000,
            bootstrap_timeout_ms=10_000,
        )
    except KafkaError as exc:
        raise BrokerUnavailableError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


def _describe(client: Any, names: Sequence[str]) -> dict[str, int]:
    described = client.describe_topics(list(names))
    return {
        topic["topic"] if "topic" in topic else topic["name"]: len(topic["partitions"])
        for topic in described
        if topic.get("error_code", 0) == 0
    }


def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], default_partitions: int, replication: int
) -> list[TopicOutcome]:
    """Create every topic in ``specs`` that does not exist yet; idempotent.

    Existing topics are left alone; a partition count that differs from the
    configuration is reported as a warning, never changed behind the
    operator's back.

    Returns:
        One outcome per spec, in order.
    """
    with admin_client(bootstrap) as client:
        existing = set(client.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created: set[str] = set()
        if missing:
            request = {
                spec.name: {
                    "num_partitions": spec.partitions or default_partitions,
                    "replication_factor": replication,
                    "configs": {"cleanup.policy": "compact"} if spec.compacted else {},
                }
                for spec in missing
            }
            result = client.create_topics(request, raise_errors=False, wait_for_metadata=True)
            for topic in result["topics"]:
                code = topic["error_code"]
                if code == 0:
                    created.add(topic["name"])
                elif code != _TOPIC_ALREADY_EXISTS:  # lost a race with another worker: fine
                    message = topic.get("error_message")
                    raise KafkaError(f"creating {topic['name']} failed: error {code} {message}")
        partitions = _describe(client, [spec.name for spec in specs])
    outcomes = []
    for spec in specs:
        wanted = spec.partitions or default_partitions
        have = partitions.get(spec.name, wanted)
        warning = None
        if have != wanted:
            warning = f"has {have} partitions, configuration says {wanted}; left unchanged"
            log.warning("topic %s %s", spec.name, warning)
        outcomes.append(
            TopicOutcome(spec.name, spec.name in created, have, spec.compacted, warning)
        )
    return outcomes
