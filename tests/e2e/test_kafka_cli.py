"""`gridwatch kafka up|down|status` and `gridwatch topics create`, as an operator runs them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import psutil

from streams.core.topics import Topics
from tests.constants import PRODUCT_TOPICS
from tests.support import GRIDWATCH, free_port_pair


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRIDWATCH, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def cli_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update(
        GRIDWATCH_HOME=str(home),
        GRIDWATCH_KAFKA_PORT=str(port),
        GRIDWATCH_BOOTSTRAP=f"127.0.0.1:{port}",
        GRIDWATCH_KAFKA_HEAP="512m",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def kcat_metadata(bootstrap: str) -> dict[str, Any]:
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is required (Debian package kcat; .ci/run installs it)"
    result = subprocess.run(
        [kcat, "-L", "-J", "-b", bootstrap], capture_output=True, text=True, timeout=30, check=True
    )
    return dict(json.loads(result.stdout))


def test_broker_lifecycle_and_topics(tmp_path):
    port = free_port_pair()
    env = cli_env(tmp_path / "home", port)
    address = f"127.0.0.1:{port}"

    stopped = run(env, "kafka", "status")
    assert stopped.returncode == 3
    assert f"stopped: {address}" in stopped.stdout

    first = run(env, "kafka", "up")
    assert first.returncode == 0, first.stderr
    assert f"kafka started: {address}" in first.stdout
    pid = int((tmp_path / "home" / "kafka" / "broker.pid").read_text())
    try:
        assert "kafka.Kafka" in psutil.Process(pid).cmdline()
        assert (tmp_path / "home" / "kafka" / "data" / "meta.properties").is_file()
        assert (tmp_path / "home" / "kafka" / "logs" / "server.log").is_file()

        again = run(env, "kafka", "up")
        assert again.returncode == 0, again.stderr
        assert f"kafka already running: {address} (pid {pid}" in again.stdout

        status = run(env, "kafka", "status")
        assert status.returncode == 0
        assert f"running: {address} (pid {pid}" in status.stdout

        for _ in range(2):  # idempotent
            created = run(env, "topics", "create")
            assert created.returncode == 0, created.stderr
        assert "exists" in created.stdout
        assert "created" not in created.stdout

        metadata = kcat_metadata(address)
        partitions = {t["topic"]: len(t["partitions"]) for t in metadata["topics"]}
        assert set(partitions) >= PRODUCT_TOPICS
        for name in ("sensor", "hotline", "inspection", "alerts", "risk"):
            assert partitions[f"gridwatch.{name}"] == 4
        assert {spec.name for spec in Topics().specs(4)} <= set(partitions)  # internal ones too
    finally:
        down = run(env, "kafka", "down")
    assert down.returncode == 0, down.stderr
    assert "kafka stopped" in down.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert run(env, "kafka", "status").returncode == 3
    assert "not running" in run(env, "kafka", "down").stdout


def test_restart_keeps_formatted_storage_and_topics(tmp_path):
    port = free_port_pair()
    env = cli_env(tmp_path / "home", port)
    try:
        assert run(env, "kafka", "up").returncode == 0
        assert run(env, "topics", "create").returncode == 0
        meta = (tmp_path / "home" / "kafka" / "data" / "meta.properties").read_text()
        # A client still connected when the broker stops: the broker closes the
        # connection, which leaves the broker's port in TIME_WAIT for a minute.
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            assert run(env, "kafka", "down").returncode == 0
        up = run(env, "kafka", "up")  # at once, not a minute later
        assert up.returncode == 0, up.stderr
        assert (tmp_path / "home" / "kafka" / "data" / "meta.properties").read_text() == meta
        names = {t["topic"] for t in kcat_metadata(f"127.0.0.1:{port}")["topics"]}
        assert names >= PRODUCT_TOPICS
    finally:
        run(env, "kafka", "down")


def test_port_taken_is_a_clear_error(tmp_path):
    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = run(cli_env(tmp_path / "home", port), "kafka", "up")
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 (client listener) is already in use" in " ".join(
        result.stderr.split()
    )
    assert not (tmp_path / "home" / "kafka" / "broker.pid").exists()


def test_missing_java_is_a_clear_error(tmp_path):
    env = cli_env(tmp_path / "home", free_port_pair(), PATH=str(tmp_path / "empty-bin"))
    result = run(env, "kafka", "up")
    assert result.returncode == 1
    assert "java not found on PATH" in result.stderr


def test_missing_maven_is_a_clear_error_when_jars_are_not_cached(tmp_path):
    java = shutil.which("java")
    assert java is not None
    only_java = tmp_path / "bin"
    only_java.mkdir()
    (only_java / "java").symlink_to(java)
    env = cli_env(
        tmp_path / "home",
        free_port_pair(),
        PATH=str(only_java),
        GRIDWATCH_KAFKA_JARS=str(tmp_path / "empty-cache"),
    )
    result = run(env, "kafka", "up")
    assert result.returncode == 1
    assert "mvn not found on PATH" in result.stderr


def test_topics_create_without_broker_fails_fast(tmp_path):
    env = cli_env(tmp_path / "home", free_port_pair())
    result = run(env, "topics", "create", timeout=60)
    assert result.returncode == 1
    assert "cannot reach Kafka" in result.stderr or "no Kafka broker" in result.stderr
