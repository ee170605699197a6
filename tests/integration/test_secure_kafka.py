"""Kafka over SASL_SSL: `gridwatch kafka up --secure`, the whole path through it, refusals.

A broker of its own (home ``.gridwatch/test-secure-broker``, free ports),
started with `gridwatch kafka up --secure` like an operator does: a client
listener speaking SASL_SSL with SCRAM-SHA-512, a CA and certificate made for
the run, a user created by Kafka's storage tool. Every client gets its
settings from the 0600 env file that command writes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil
import pytest

from streams.broker import local as kafka_local
from streams.broker.admin import admin_client
from streams.broker.local import LocalKafka
from streams.broker.local_secure import read_env_file
from streams.core.settings import Settings, project_root
from streams.core.topics import Topics
from tests.support import (
    GRIDWATCH,
    WorkerProcess,
    free_port,
    free_port_pair,
    wait_until,
    worker_env,
)

SECURE_HOME = (project_root() or Path.cwd()) / ".gridwatch" / "test-secure-broker"
WRONG_PASSWORD = "Wr0ng-pa55word-never-printed"
REPLAY_SPEED = "120"  # as the parity test: per-asset order across input topics needs pacing


def gridwatch(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRIDWATCH, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def clean_env(**variables: str) -> dict[str, str]:
    """The environment without any GRIDWATCH_* of the developer's, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    return env | {"COLUMNS": "200"} | variables


@dataclass(frozen=True)
class SecureBroker:
    """The secure broker and what `kafka up --secure` told about it."""

    local: LocalKafka
    cli_env: dict[str, str]
    started: subprocess.CompletedProcess[str]

    @property
    def env_file(self) -> Path:
        return self.local.secure_files.client_env

    @property
    def client_env(self) -> dict[str, str]:
        """GRIDWATCH_* settings of the generated user (bootstrap, protocol, user, password, CA)."""
        return read_env_file(self.env_file)

    @property
    def password(self) -> str:
        return self.client_env["GRIDWATCH_SASL_PASSWORD"]

    def env(self, prefix: str, **variables: str) -> dict[str, str]:
        """A client's environment: the env file's settings and this test's topic prefix."""
        return clean_env(**{**self.client_env, "GRIDWATCH_TOPIC_PREFIX": prefix, **variables})


@pytest.fixture(scope="module")
def secure_broker() -> Iterator[SecureBroker]:
    port = free_port_pair()
    cli_env = clean_env(
        GRIDWATCH_HOME=str(SECURE_HOME),
        GRIDWATCH_KAFKA_PORT=str(port),
        GRIDWATCH_KAFKA_HEAP="512m",
    )
    local = LocalKafka(Settings(home=SECURE_HOME, kafka_port=port))
    kafka_local.down(local)  # a broker left over by a killed run
    shutil.rmtree(local.state_dir, ignore_errors=True)
    try:
        started = gridwatch(cli_env, "kafka", "up", "--secure", "--timeout", "120", timeout=300)
        if started.returncode != 0:
            pytest.fail(f"`kafka up --secure` failed:\n{started.stderr}", pytrace=False)
        yield SecureBroker(local, cli_env, started)
    finally:
        kafka_local.down(local)


@pytest.mark.timeout(300)
def test_kafka_up_secure_prints_the_settings_and_keeps_the_secrets_private(
    secure_broker: SecureBroker,
) -> None:
    broker = secure_broker
    address = broker.local.address
    printed = broker.started.stdout + broker.started.stderr
    assert f"kafka started: {address}" in printed
    assert "SASL_SSL (SCRAM-SHA-512 as gridwatch)" in printed
    expected = {name: value for name, value in broker.client_env.items() if "PASSWORD" not in name}
    assert expected == {
        "GRIDWATCH_BOOTSTRAP": address,
        "GRIDWATCH_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWATCH_SASL_MECHANISM": "SCRAM-SHA-512",
        "GRIDWATCH_SASL_USERNAME": "gridwatch",
        "GRIDWATCH_SSL_CAFILE": str(broker.local.secure_files.ca),
    }
    for name, value in expected.items():
        assert f"  {name}={value}\n" in broker.started.stdout
    assert str(broker.env_file) in printed
    assert "GRIDWATCH_SASL_PASSWORD=" not in printed

    status = gridwatch(broker.cli_env, "kafka", "status")
    assert status.returncode == 0, status.stderr
    assert f"running: {address}" in status.stdout
    assert "secure, SASL_SSL (SCRAM-SHA-512 as gridwatch), answering" in status.stdout

    secrets = [broker.password, broker.local.secure_files.broker_secret.read_text().strip()]
    files = broker.local.secure_files
    for private in (files.client_env, files.broker_secret, files.keystore):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert stat.S_IMODE(broker.local.properties_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    assert not (files.directory / "format.args").exists()
    pid = status.stdout.split("(pid ")[1].split(",")[0]
    shown = [
        printed,
        status.stdout + status.stderr,
        " ".join(psutil.Process(int(pid)).cmdline()),
        *(log.read_text(errors="replace") for log in broker.local.logs_dir.iterdir()),
    ]
    for secret in secrets:
        for text in shown:
            assert secret not in text


@pytest.mark.timeout(400)
def test_the_whole_path_runs_over_sasl_ssl(
    secure_broker: SecureBroker, topic_prefix: str, tmp_path: Path
) -> None:
    env = secure_broker.env(topic_prefix, GRIDWATCH_HOME=str(tmp_path / "home"))
    log, registry = tmp_path / "city.jsonl", tmp_path / "registry.geojson"
    made = gridwatch(
        env, "simulate", "--assets", "40", "--duration", "20m", "--incidents", "2",
        "--seed", "21", "--out", str(log), "--registry", str(registry),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    offline_out = tmp_path / "offline.jsonl"
    offline = gridwatch(
        env, "process", str(log), "--assets", str(registry), "--out", str(offline_out)
    )
    assert offline.returncode == 0, offline.stderr
    expected = sorted(
        orjson.loads(line)["identifier"] for line in offline_out.read_bytes().splitlines()
    )
    assert expected, "the simulated incidents must alert"

    created = gridwatch(env, "topics", "create")
    assert created.returncode == 0, created.stderr
    assert Topics(topic_prefix).alerts in created.stdout
    loaded = gridwatch(env, "assets", "load", str(registry))
    assert loaded.returncode == 0, loaded.stderr
    security = {k: v for k, v in secure_broker.client_env.items() if k != "GRIDWATCH_BOOTSTRAP"}
    worker = WorkerProcess(
        worker_env(secure_broker.local.address, topic_prefix, tmp_path / "worker", **security),
        tmp_path / "worker.log",
    ).start()
    try:
        worker.wait_ready()
        replayed = gridwatch(env, "replay", str(log), "--speed", REPLAY_SPEED)
        assert replayed.returncode == 0, replayed.stderr

        def recorded() -> list[str] | None:
            out = tmp_path / "live.jsonl"
            result = gridwatch(env, "record", "--topic", "alerts", "--out", str(out))
            assert result.returncode == 0, result.stderr
            identifiers = [
                orjson.loads(line)["identifier"] for line in out.read_bytes().splitlines()
            ]
            return identifiers if len(identifiers) >= len(expected) else None

        live = wait_until(recorded, timeout=90, message=lambda: f"the live alerts\n{worker.tail()}")
        assert sorted(live) == expected
    finally:
        assert worker.stop() is not None
    assert secure_broker.password not in worker.log_path.read_text(errors="replace")


def _topics_with_prefix(broker: SecureBroker, prefix: str) -> list[str]:
    """Topics named ``prefix…``, as the generated user sees them."""
    security = broker.local.client_security()
    with admin_client(broker.local.address, security=security) as client:
        return [name for name in client.list_topics() if name.startswith(prefix)]


@pytest.mark.timeout(300)
def test_a_client_without_credentials_is_refused(
    secure_broker: SecureBroker, topic_prefix: str
) -> None:
    address = secure_broker.local.address
    env = clean_env(GRIDWATCH_BOOTSTRAP=address, GRIDWATCH_TOPIC_PREFIX=topic_prefix)

    created = gridwatch(env, "topics", "create")

    assert created.returncode == 1
    assert f"cannot connect to Kafka at {address} with PLAINTEXT" in created.stderr
    assert f"the listener at {address} speaks TLS" in created.stderr
    assert "GRIDWATCH_SECURITY_PROTOCOL=SASL_SSL" in created.stderr
    assert _topics_with_prefix(secure_broker, topic_prefix) == []


@pytest.mark.timeout(300)
def test_a_wrong_password_is_refused_and_never_shown(
    secure_broker: SecureBroker, topic_prefix: str, tmp_path: Path
) -> None:
    env = secure_broker.env(
        topic_prefix, GRIDWATCH_SASL_PASSWORD=WRONG_PASSWORD, GRIDWATCH_HOME=str(tmp_path)
    )
    server_log = secure_broker.local.logs_dir / "server.log"
    refusals_before = server_log.read_text(errors="replace").count("Failed authentication")
    refused = "with SASL_SSL (SCRAM-SHA-512 as gridwatch): authentication failed"

    created = gridwatch(env, "topics", "create")
    assert created.returncode == 1
    assert refused in created.stderr
    assert "SaslAuthenticationFailed" in created.stderr
    assert "check GRIDWATCH_SASL_USERNAME, GRIDWATCH_SASL_PASSWORD" in created.stderr

    recorded = gridwatch(env, "record", "--topic", "alerts", "--out", str(tmp_path / "a.jsonl"))
    assert recorded.returncode == 1
    assert refused in recorded.stderr

    worker = gridwatch(env | {"GRIDWATCH_WEB_PORT": str(free_port())}, "worker", timeout=120)
    assert worker.returncode == 1
    assert refused in worker.stderr

    # The broker itself refused the logins, and nobody printed the password.
    server = server_log.read_text(errors="replace")
    assert server.count("Failed authentication") > refusals_before
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in server
    for result in (created, recorded, worker):
        assert WRONG_PASSWORD not in result.stdout + result.stderr
    assert WRONG_PASSWORD not in server
    assert _topics_with_prefix(secure_broker, topic_prefix) == []


@pytest.mark.timeout(300)
def test_a_restart_keeps_the_user_and_makes_new_certificates(
    secure_broker: SecureBroker, topic_prefix: str
) -> None:
    """Runs last: it stops and restarts the module's broker."""
    password = secure_broker.password
    ca_before = secure_broker.local.secure_files.ca.read_bytes()
    env = secure_broker.env(topic_prefix)
    assert gridwatch(env, "topics", "create").returncode == 0

    plain = gridwatch(secure_broker.cli_env, "kafka", "up")
    assert plain.returncode == 1
    assert "already runs with TLS and SASL" in plain.stderr
    assert gridwatch(secure_broker.cli_env, "kafka", "down").returncode == 0
    stopped = gridwatch(secure_broker.cli_env, "kafka", "status")
    assert stopped.returncode == 3
    assert "secure, SASL_SSL" in stopped.stdout
    plain = gridwatch(secure_broker.cli_env, "kafka", "up")
    assert plain.returncode == 1
    assert "start it with `gridwatch kafka up --secure`" in plain.stderr

    again = gridwatch(secure_broker.cli_env, "kafka", "up", "--secure", "--timeout", "120")
    assert again.returncode == 0, again.stderr
    assert secure_broker.password == password
    assert secure_broker.local.secure_files.ca.read_bytes() != ca_before
    assert password not in again.stdout + again.stderr
    # The same settings still work, and the topics survived.
    created = gridwatch(secure_broker.env(topic_prefix), "topics", "create")
    assert created.returncode == 0, created.stderr
    assert "exists" in created.stdout
    assert "created" not in created.stdout
