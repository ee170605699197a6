"""Broker administration through kafka-python: probes and topic creation.

Each function takes the clients' :class:`~streams.core.kafka_security.KafkaSecurity`
(``settings.kafka_security``); PLAINTEXT when not given.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from streams.broker.auth import diagnose_refusal, explain_silence, kafka_python_auth
from streams.core.kafka_security import PLAINTEXT, KafkaSecurity
from streams.core.topics import TopicSpec

log = logging.getLogger(__name__)

Client = TypeVar("Client")

_TOPIC_ALREADY_EXISTS: Final = 36


class BrokerUnavailableError(RuntimeError):
    """No Kafka broker answered at the configured address."""


class ReplicationError(RuntimeError):
    """The cluster has fewer brokers than the replication factor topics are created with."""


PRODUCTION_REPLICATION_FACTOR: Final = 3
"""Replicas of every topic in production: one broker may fail, one more may be down for upkeep."""

PRODUCTION_MIN_INSYNC_REPLICAS: Final = 2
"""With ``acks=all``, a write is acknowledged once 2 of the 3 replicas have it."""


class BrokerAuthenticationError(BrokerUnavailableError):
    """The broker refused the credentials, is not trusted, or speaks another protocol."""


def _refused(
    bootstrap: str, security: KafkaSecurity, reason: str | None
) -> BrokerAuthenticationError | None:
    if reason is None:
        return None
    return BrokerAuthenticationError(
        f"cannot connect to Kafka at {bootstrap} with {security.describe()}: {reason}"
    )


def unreachable(bootstrap: str, security: KafkaSecurity, detail: str) -> BrokerUnavailableError:
    """The error for a broker that does not answer, naming the security problem if that is why.

    Args:
        bootstrap: The servers tried.
        security: What the client spoke.
        detail: What went wrong otherwise, e.g. ``no Kafka broker answers at …``.

    Returns:
        A :class:`BrokerAuthenticationError` for refused credentials, an untrusted
        certificate or a protocol mismatch; else a :class:`BrokerUnavailableError`.
    """
    reason = diagnose_refusal(bootstrap, security, timeout_s=5.0) or explain_silence(
        bootstrap, security, timeout_s=2.0
    )
    refused = _refused(bootstrap, security, reason)
    return refused if refused is not None else BrokerUnavailableError(detail)


def open_kafka_client(
    factory: Callable[..., Client],
    bootstrap: str,
    *args: Any,
    security: KafkaSecurity = PLAINTEXT,
    **options: Any,
) -> Client:
    """Construct a kafka-python client for ``bootstrap`` with ``security``'s options.

    Every kafka-python client of gridwatch is opened here, so a refused login
    is reported as such rather than as kafka-python's bootstrap timeout
    (see :func:`unreachable`).

    Args:
        factory: ``KafkaProducer``, ``KafkaConsumer`` or ``KafkaAdminClient``.
        bootstrap: Comma-separated servers.
        *args: Positional arguments of the factory (a consumer's topics).
        security: Protocol, SASL credentials and TLS.
        **options: Further keyword options of the factory.

    Raises:
        BrokerAuthenticationError: The broker refused the credentials, or speaks
            another security protocol.
        BrokerUnavailableError: No broker could be reached.
    """
    try:
        return factory(
            *args,
            bootstrap_servers=bootstrap.split(","),
            **kafka_python_auth(security),
            **options,
        )
    except KafkaError as exc:
        raise unreachable(bootstrap, security, f"cannot reach Kafka at {bootstrap}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class TopicOutcome:
    """What ``ensure_topics`` did for one topic."""

    name: str
    created: bool
    partitions: int
    compacted: bool
    warning: str | None = None
    replication: int | None = None


def _any_port_open(bootstrap: str, timeout_s: float) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def broker_answers(
    bootstrap: str, timeout_s: float = 2.0, *, security: KafkaSecurity = PLAINTEXT
) -> bool:
    """Return True if a Kafka broker answers a metadata request at ``bootstrap``.

    Raises:
        BrokerAuthenticationError: A broker answered and refused the credentials,
            or its certificate is not trusted.
    """
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
            **kafka_python_auth(security),
        )
        try:
            consumer.topics()
        finally:
            consumer.close()
    except KafkaError as exc:
        refused = _refused(bootstrap, security, diagnose_refusal(bootstrap, security, timeout_s))
        if refused is not None:
            raise refused from exc
        return False
    return True


def wait_for_broker(
    bootstrap: str, timeout_s: float, *, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Block until a broker answers a metadata request.

    Raises:
        BrokerUnavailableError: When none answered within ``timeout_s``.
        BrokerAuthenticationError: A broker refused the credentials, or speaks
            another security protocol.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if broker_answers(bootstrap, timeout_s=min(5.0, max(timeout_s, 1.0)), security=security):
            return
        if time.monotonic() > deadline:
            raise unreachable(
                bootstrap, security, f"no Kafka broker answered at {bootstrap} within {timeout_s}s"
            )
        time.sleep(0.5)


@contextmanager
def admin_client(bootstrap: str, *, security: KafkaSecurity = PLAINTEXT) -> Iterator[Any]:
    """A kafka-python admin client, closed on exit.

    Raises:
        BrokerUnavailableError: When the broker cannot be reached.
        BrokerAuthenticationError: The broker refused the credentials, or speaks
            another security protocol.
    """
    client = open_kafka_client(
        KafkaAdminClient,
        bootstrap,
        security=security,
        client_id="gridwatch-admin",
        request_timeout_ms=30_000,
        bootstrap_timeout_ms=10_000,
    )
    try:
        yield client
    finally:
        client.close()


def _replicas(partition: dict[str, Any]) -> int:
    # kafka-python names the field after the protocol version it spoke.
    return len(partition.get("replica_nodes", partition.get("replicas", [])))


def _describe(client: Any, names: Sequence[str]) -> dict[str, tuple[int, int]]:
    """Topic name -> (partitions, replicas of its first partition), for topics that exist."""
    described = client.describe_topics(list(names))
    return {
        topic["topic"] if "topic" in topic else topic["name"]: (
            len(topic["partitions"]),
            _replicas(topic["partitions"][0]) if topic["partitions"] else 0,
        )
        for topic in described
        if topic.get("error_code", 0) == 0
    }


def partition_counts(client: Any, names: Sequence[str]) -> dict[str, int]:
    """Topic name -> its partition count, for the topics of ``names`` that exist."""
    return {name: partitions for name, (partitions, _) in _describe(client, names).items()}


def live_brokers(client: Any) -> int:
    """How many brokers of the cluster are up (fenced ones do not count)."""
    brokers = client.describe_cluster()["brokers"]
    return sum(1 for broker in brokers if not broker.get("is_fenced", False))


def topic_configs(spec: TopicSpec, min_insync_replicas: int | None) -> dict[str, str]:
    """The topic-level configuration a topic is created with."""
    configs = {"cleanup.policy": "compact"} if spec.compacted else {}
    if min_insync_replicas is not None:
        configs["min.insync.replicas"] = str(min_insync_replicas)
    return configs


def ensure_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    default_partitions: int,
    replication: int,
    *,
    security: KafkaSecurity = PLAINTEXT,
    min_insync_replicas: int | None = None,
) -> list[TopicOutcome]:
    """Create every topic in ``specs`` that does not exist yet; idempotent.

    Existing topics are left alone; a partition count or replication factor
    that differs from the configuration is reported as a warning, never
    changed behind the operator's back. ``min_insync_replicas`` (the broker's
    default when None) is set on every topic created.

    Returns:
        One outcome per spec, in order.

    Raises:
        ReplicationError: A topic is missing and the cluster has fewer live
            brokers than ``replication``.
    """
    with admin_client(bootstrap, security=security) as client:
        existing = set(client.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created: set[str] = set()
        if missing:
            # Checked only when creating: a worker restarting while one broker
            # of three is down must still start on its existing topics.
            brokers = live_brokers(client)
            if brokers < replication:
                raise ReplicationError(
                    f"replication factor {replication} needs at least {replication} brokers; "
                    f"the cluster at {bootstrap} has {brokers}"
                )
            request = {
                spec.name: {
                    "num_partitions": spec.partitions or default_partitions,
                    "replication_factor": replication,
                    "configs": topic_configs(spec, min_insync_replicas),
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
        described = _describe(client, [spec.name for spec in specs])
    outcomes = []
    for spec in specs:
        wanted = spec.partitions or default_partitions
        have, replicas = described.get(spec.name, (wanted, replication))
        problems = []
        if have != wanted:
            problems.append(f"has {have} partitions, configuration says {wanted}")
        if replicas < replication:
            problems.append(f"has {replicas} replicas, configuration says {replication}")
        warning = "; ".join(problems) + "; left unchanged" if problems else None
        if warning:
            log.warning("topic %s %s", spec.name, warning)
        outcomes.append(
            TopicOutcome(spec.name, spec.name in created, have, spec.compacted, warning, replicas)
        )
    return outcomes
