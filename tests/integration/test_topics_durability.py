"""Durability settings of created topics: min.insync.replicas, and --production's refusal.

The test broker is a single node, so replication factor 1 with
``min.insync.replicas=1`` is what can be created; ``--production`` (3 and 2)
must be refused before anything is created.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from streams.broker.admin import ReplicationError, admin_client, ensure_topics
from streams.core.topics import Topics
from tests.support import GRIDWATCH


def topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    """Topic -> its non-default configuration."""
    with admin_client(bootstrap) as client:
        described = client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    return {
        name: {key: entry["value"] for key, entry in configs.items()}
        for name, configs in described["topic"].items()
    }


def topics_with_prefix(bootstrap: str, prefix: str) -> set[str]:
    with admin_client(bootstrap) as client:
        return {name for name in client.list_topics() if name.startswith(prefix)}


def test_created_topics_carry_min_insync_replicas(kafka_bootstrap: str, topic_prefix: str) -> None:
    specs = Topics(topic_prefix).specs(2)
    outcomes = ensure_topics(kafka_bootstrap, specs, 2, 1, min_insync_replicas=1)
    assert all(o.created for o in outcomes)
    assert {o.replication for o in outcomes} == {1}
    configs = topic_configs(kafka_bootstrap, [spec.name for spec in specs])
    for spec in specs:
        assert configs[spec.name]["min.insync.replicas"] == "1", spec.name
        assert configs[spec.name].get("cleanup.policy", "delete") == (
            "compact" if spec.compacted else "delete"
        ), spec.name
    # Existing topics are left alone: no broker count is asked for, and a higher
    # replication factor is reported, not applied.
    again = ensure_topics(kafka_bootstrap, specs, 2, 3, min_insync_replicas=2)
    assert not any(o.created for o in again)
    for outcome in again:
        assert outcome.warning == "has 1 replicas, configuration says 3; left unchanged"
    assert (
        topic_configs(kafka_bootstrap, [specs[0].name])[specs[0].name]["min.insync.replicas"] == "1"
    )


def test_replication_beyond_the_cluster_is_refused_before_creating(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    specs = Topics(topic_prefix).specs(2)
    with pytest.raises(ReplicationError, match=r"replication factor 3 needs at least 3 brokers"):
        ensure_topics(kafka_bootstrap, specs, 2, 3, min_insync_replicas=2)
    assert topics_with_prefix(kafka_bootstrap, topic_prefix) == set()


def test_topics_create_production_refuses_a_single_broker(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update(GRIDWATCH_BOOTSTRAP=kafka_bootstrap, GRIDWATCH_TOPIC_PREFIX=topic_prefix)
    env["COLUMNS"] = "200"
    result = subprocess.run(
        [GRIDWATCH, "topics", "create", "--production"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    message = " ".join(result.stderr.split())
    assert (
        f"replication factor 3 needs at least 3 brokers; the cluster at {kafka_bootstrap} has 1 "
        "(asked by --production); nothing was created"
    ) in message
    assert topics_with_prefix(kafka_bootstrap, topic_prefix) == set()
