"""Session-wide fixtures: the real Kafka broker every integration and e2e test uses."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import local as kafka_local
from streams.broker.admin import broker_answers
from streams.broker.local import LocalKafka, LocalKafkaError
from streams.core.settings import Settings, project_root
from tests.support import free_port_pair

_BROKER_NOTE: list[str] = []

TEST_HOME = (project_root() or Path.cwd()) / ".gridwatch" / "test-broker"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)
        elif f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in _BROKER_NOTE:
        terminalreporter.write_line(note)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """A real Apache Kafka broker: GRIDWATCH_BOOTSTRAP if set, else one the project starts.

    Never skips: if no broker can be had, every test that needs one fails.
    """
    external = os.environ.get("GRIDWATCH_BOOTSTRAP")
    if external:
        if not broker_answers(external, timeout_s=10.0):
            pytest.fail(f"GRIDWATCH_BOOTSTRAP={external} does not answer", pytrace=False)
        _BROKER_NOTE.append(f"kafka: external broker at {external} (GRIDWATCH_BOOTSTRAP)")
        yield external
        return
    port = free_port_pair()
    local = LocalKafka(Settings(home=TEST_HOME, kafka_port=port, kafka_heap="768m"))
    kafka_local.down(local)  # a broker left over by a killed run
    shutil.rmtree(local.state_dir, ignore_errors=True)
    try:
        state = kafka_local.up(local, timeout_s=120.0)
    except LocalKafkaError as exc:
        pytest.fail(f"could not start the project's Kafka broker: {exc}", pytrace=False)
    _BROKER_NOTE.append(
        f"kafka: tests ran against Apache Kafka {state.version} started by the project "
        f"at {state.address} (pid {state.pid}, KRaft, {local.state_dir})"
    )
    try:
        yield state.address
    finally:
        kafka_local.down(local)


@pytest.fixture
def topic_prefix() -> str:
    """A unique topic prefix (and consumer group) per test."""
    return f"t{uuid.uuid4().hex[:10]}."
