"""A local Apache Kafka broker (KRaft) run from Maven Central jars.

``gridwatch kafka up`` resolves ``org.apache.kafka:kafka_2.13`` and its runtime
dependencies with ``mvn`` from ``deploy/kafka/pom.xml`` into a cache reused
between runs, formats KRaft storage once with ``kafka.tools.StorageTool`` and
starts ``kafka.Kafka`` on 127.0.0.1. Data, logs and the PID file live under
``<home>/kafka`` (``home`` defaults to the git-ignored ``.gridwatch/``).

With ``secure=True`` (``gridwatch kafka up --secure``) the client listener is
``SASL_SSL`` with SCRAM-SHA-512: a CA and broker certificate are made for the
start, and the users are created when the storage is formatted (see
:mod:`streams.broker.local_secure`). The controller listener stays PLAINTEXT
on 127.0.0.1. A storage formatted one way is not started the other way.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from streams.broker import local_secure
from streams.broker.admin import broker_answers
from streams.broker.local_secure import ScramUsers, SecureFiles
from streams.core.clock import SystemClock
from streams.core.kafka_security import PLAINTEXT, KafkaSecurity
from streams.core.settings import Settings, project_root

MIN_JAVA: Final = 17
START_TIMEOUT_S: Final = 90.0
STOP_TIMEOUT_S: Final = 60.0

# Brokers this process spawned: kept so the child can be reaped when stopped
# (and so Python does not warn about a running child being garbage collected).
_SPAWNED: dict[int, subprocess.Popen[bytes]] = {}


class LocalKafkaError(RuntimeError):
    """The local broker could not be resolved, started or stopped; the message says why."""


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What ``gridwatch kafka status`` reports.

    Attributes:
        running: Whether the broker gridwatch started is alive.
        answers: Whether a broker answers metadata requests at ``address``.
        address: host:port of the client listener.
        pid: PID of the broker gridwatch started, if running.
        version: Kafka version from the pom.
        state_dir: Where data, logs and the PID file live.
        security: The client listener's security, without secrets (``PLAINTEXT``, or
            ``SASL_SSL (SCRAM-SHA-512 as gridwatch)``).
        client_env: For a secure broker, the 0600 file of the client's ``GRIDWATCH_*``
            settings (password included).
    """

    running: bool
    answers: bool
    address: str
    pid: int | None
    version: str
    state_dir: Path
    security: str = "PLAINTEXT"
    client_env: Path | None = None

    @property
    def secure(self) -> bool:
        """Whether clients must use TLS and SASL."""
        return self.client_env is not None


@dataclass(frozen=True, slots=True)
class LocalKafka:
    """Paths and settings of one local broker."""

    settings: Settings

    @property
    def pom(self) -> Path:
        """The pom that lists the broker's jars."""
        root = project_root()
        if root is None:
            raise LocalKafkaError(
                "deploy/kafka/pom.xml not found: run gridwatch from its source checkout "
                "(pip install -e .)"
            )
        return root / "deploy" / "kafka" / "pom.xml"

    @property
    def log4j_config(self) -> Path:
        """The broker's log4j2 configuration."""
        return self.pom.parent / "log4j2.xml"

    @property
    def version(self) -> str:
        """The Kafka version the pom pins."""
        match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", self.pom.read_text())
        if match is None:
            raise LocalKafkaError(f"no <kafka.version> property in {self.pom}")
        return match.group(1)

    @property
    def jar_dir(self) -> Path:
        """Cache folder of the resolved jars, keyed by the pom's content."""
        digest = hashlib.sha256(self.pom.read_bytes()).hexdigest()[:12]
        return self.settings.jar_cache / f"{self.version}-{digest}"

    @property
    def state_dir(self) -> Path:
        """Data, logs, configuration and PID file of the broker."""
        return self.settings.home / "kafka"

    @property
    def data_dir(self) -> Path:
        """KRaft metadata and topic data."""
        return self.state_dir / "data"

    @property
    def logs_dir(self) -> Path:
        """Broker logs."""
        return self.state_dir / "logs"

    @property
    def properties_file(self) -> Path:
        """The generated server.properties."""
        return self.state_dir / "server.properties"

    @property
    def pid_file(self) -> Path:
        """PID of the broker process gridwatch started."""
        return self.state_dir / "broker.pid"

    @property
    def address(self) -> str:
        """host:port of the client listener."""
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def secure_files(self) -> SecureFiles:
        """TLS material and credentials of the secure mode (``kafka up --secure``)."""
        return SecureFiles(self.state_dir / "secure")

    @property
    def is_secure(self) -> bool:
        """Whether this broker's storage was made for the secure mode."""
        return self.secure_files.exists()

    def client_security(self) -> KafkaSecurity:
        """What a client needs to reach this broker: PLAINTEXT, or its SASL_SSL user.

        Raises:
            LocalKafkaError: The secure mode's credentials cannot be read.
        """
        if not self.is_secure:
            return PLAINTEXT
        files = self.secure_files
        try:
            return local_secure.client_security(files, local_secure.load_users(files))
        except (OSError, ValueError) as exc:  # KafkaSecurityError is a ValueError
            raise LocalKafkaError(
                f"cannot read the broker's credentials in {files.directory}: {exc}"
            ) from exc


def broker_properties(kafka: LocalKafka, users: ScramUsers | None = None) -> str:
    """Render server.properties for a single-node KRaft broker on loopback.

    Args:
        kafka: The broker.
        users: With the secure mode's users, the client listener is SASL_SSL
            (SCRAM-SHA-512, the PEM files of :attr:`LocalKafka.secure_files`);
            the text then holds the broker user's password.
    """
    port = kafka.settings.kafka_port
    controller = kafka.settings.controller_port
    listener = "PLAINTEXT" if users is None else "SASL_SSL"
    lines = [
        "# Generated by gridwatch kafka up; edits are overwritten.",
        "node.id=1",
        "process.roles=broker,controller",
        f"listeners={listener}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        f"advertised.listeners={listener}://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        f"inter.broker.listener.name={listener}",
        f"listener.security.protocol.map={listener}:{listener},CONTROLLER:PLAINTEXT",
        f"controller.quorum.voters=1@127.0.0.1:{controller}",
        f"log.dirs={kafka.data_dir}",
        f"num.partitions={kafka.settings.partitions}",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=8",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        # A single local node: no reason to wait for more members to join.
        "group.initial.rebalance.delay.ms=0",
        # Topics are created deliberately (gridwatch topics create / the worker);
        # a typo in a producer must not create a stray topic.
        "auto.create.topics.enable=false",
        # Replayed logs carry their event times as Kafka timestamps: time-based
        # retention would delete a log older than a week as soon as it is written
        # (the test cities start on a fixed date). Data here is for development.
        "log.retention.ms=-1",
        "log.segment.bytes=268435456",
    ]
    if users is not None:
        lines += local_secure.listener_properties(kafka.secure_files, users)
    return "\n".join(lines) + "\n"


def _require_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            f"java not found on PATH: Apache Kafka needs Java {MIN_JAVA}+ "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    probe = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False, timeout=60
    )
    match = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
    if match is None:
        raise LocalKafkaError(f"cannot tell the version of {java}: {probe.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise LocalKafkaError(f"{java} is Java {major}; Apache Kafka 4 needs Java {MIN_JAVA}+")
    return java


def resolve_jars(kafka: LocalKafka, *, quiet: bool = True) -> Path:
    """Return the folder of the broker's jars, resolving them with mvn on first use.

    Raises:
        LocalKafkaError: When mvn is missing or the resolution fails.
    """
    target = kafka.jar_dir
    marker = target / ".complete"
    if marker.is_file():
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            f"mvn not found on PATH: Maven is needed once to fetch Apache Kafka {kafka.version} "
            f"into {kafka.settings.jar_cache} (Debian: apt-get install maven)"
        )
    staging = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [
        mvn,
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(kafka.pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={staging}",
    ]
    result = subprocess.run(command, capture_output=quiet, text=True, check=False)
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        output = (result.stdout or "")[-2000:] + (result.stderr or "")[-2000:]
        raise LocalKafkaError(
            f"mvn could not resolve Apache Kafka {kafka.version} (exit {result.returncode}):\n"
            + output
        )
    (staging / ".complete").write_text(kafka.version + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the JVM binds: connections of a broker just stopped linger in
        # TIME_WAIT, and without SO_REUSEADDR they would make the port look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _is_our_broker(kafka: LocalKafka, pid: int) -> bool:
    try:
        cmdline = psutil.Process(pid).cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return "kafka.Kafka" in cmdline and str(kafka.properties_file) in cmdline


def _running_pid(kafka: LocalKafka) -> int | None:
    try:
        pid = int(kafka.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _is_our_broker(kafka, pid):
        return pid
    return None


def status(kafka: LocalKafka) -> BrokerStatus:
    """Report whether the local broker runs and whether anything answers at its address.

    A secure broker is probed with its own client user.
    """
    pid = _running_pid(kafka)
    security = kafka.client_security()
    return BrokerStatus(
        running=pid is not None,
        answers=broker_answers(kafka.address, timeout_s=2.0, security=security),
        address=kafka.address,
        pid=pid,
        version=kafka.version,
        state_dir=kafka.state_dir,
        security=security.describe(),
        client_env=kafka.secure_files.client_env if kafka.is_secure else None,
    )


def _new_cluster_id() -> str:
    # Kafka's Uuid.toString: URL-safe base64 of 16 bytes, no padding; Kafka
    # avoids ids starting with "-" so they never look like a flag.
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _formatted(kafka: LocalKafka) -> bool:
    return (kafka.data_dir / "meta.properties").is_file()


def _format_storage(kafka: LocalKafka, java: str, jars: Path, users: ScramUsers | None) -> None:
    if _formatted(kafka):
        return
    kafka.data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        java,
        "-cp",
        f"{jars}/*",
        f"-Dlog4j2.configurationFile={kafka.log4j_config}",
        f"-Dkafka.logs.dir={kafka.logs_dir}",
        "kafka.tools.StorageTool",
        "format",
        "-t",
        _new_cluster_id(),
        "-c",
        str(kafka.properties_file),
    ]
    secrets_file = kafka.secure_files.directory / "format.args"
    if users is not None:
        # The passwords go through a 0600 @argfile of the java launcher, never
        # through a command line that `ps` shows to every local user.
        local_secure.write_private(secrets_file, "\n".join(users.format_arguments()) + "\n")
        command.append(f"@{secrets_file}")
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    finally:
        secrets_file.unlink(missing_ok=True)
    if result.returncode != 0:
        output = f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        raise LocalKafkaError(
            f"formatting KRaft storage failed (exit {result.returncode}):\n"
            + (users.redact(output) if users is not None else output)
        )


def _check_mode(kafka: LocalKafka, *, secure: bool) -> None:
    """Refuse to start a storage in the other mode than the one it was formatted for."""
    if not _formatted(kafka) or kafka.is_secure == secure:
        return
    if kafka.is_secure:
        raise LocalKafkaError(
            f"the broker in {kafka.state_dir} was made secure (SASL_SSL): start it with "
            f"`gridwatch kafka up --secure`, or delete {kafka.state_dir} (its topics are lost) "
            "for a plaintext broker"
        )
    raise LocalKafkaError(
        f"the broker in {kafka.state_dir} was made without TLS and SASL users: start it "
        f"without --secure, delete {kafka.state_dir} (its topics are lost), or give the secure "
        "broker its own GRIDWATCH_HOME and GRIDWATCH_KAFKA_PORT"
    )


def _prepare_secure(kafka: LocalKafka) -> ScramUsers:
    """Users (new with new storage, else the stored ones), fresh certificates, client.env."""
    files = kafka.secure_files
    local_secure.prepare_directory(files)
    if _formatted(kafka) and files.exists():
        users = local_secure.load_users(files)
    else:
        users = ScramUsers.generate()
    local_secure.generate_certificates(files, now=SystemClock().now())
    local_secure.save_users(files, users, kafka.address)
    return users


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def up(
    kafka: LocalKafka, *, timeout_s: float = START_TIMEOUT_S, secure: bool = False
) -> BrokerStatus:
    """Start the local broker unless it already runs; return once it answers.

    Args:
        kafka: The broker.
        timeout_s: How long to wait for it to answer.
        secure: Start the client listener as SASL_SSL with SCRAM-SHA-512 (see the
            module's documentation); the clients' settings are in
            ``BrokerStatus.client_env``.

    Raises:
        LocalKafkaError: When java or mvn is missing, a port is taken by something
            else, the storage was made for the other mode, or the broker does not
            come up.
    """
    pid = _running_pid(kafka)
    if pid is not None and kafka.is_secure != secure:
        mode = "with" if kafka.is_secure else "without"
        raise LocalKafkaError(
            f"the broker (pid {pid}) already runs {mode} TLS and SASL; stop it first "
            "with `gridwatch kafka down`"
        )
    if pid is None:
        kafka.pid_file.unlink(missing_ok=True)
        _check_mode(kafka, secure=secure)
        java = _require_java()
        for port, role in (
            (kafka.settings.kafka_port, "client"),
            (kafka.settings.controller_port, "controller"),
        ):
            if not _port_free(port):
                other = (
                    " (a Kafka broker not started from this home answers there; use it with "
                    "GRIDWATCH_BOOTSTRAP, or stop it)"
                    if role == "client" and broker_answers(kafka.address)
                    else ""
                )
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 ({role} listener) is already in use{other}; "
                    "choose another with GRIDWATCH_KAFKA_PORT"
                )
        jars = resolve_jars(kafka)
        kafka.logs_dir.mkdir(parents=True, exist_ok=True)
        users = _prepare_secure(kafka) if secure else None
        # 0600 from the start: in the secure mode it holds the broker user's password.
        local_secure.write_private(kafka.properties_file, broker_properties(kafka, users))
        _format_storage(kafka, java, jars, users)
        pid = _spawn(kafka, java, jars)
    security = kafka.client_security()
    deadline = time.monotonic() + timeout_s
    while not broker_answers(kafka.address, timeout_s=2.0, security=security):
        if not psutil.pid_exists(pid) or _zombie(pid):
            kafka.pid_file.unlink(missing_ok=True)
            raise LocalKafkaError(
                f"the broker exited during start-up; last lines of its output:\n"
                f"{_tail(kafka.logs_dir / 'stdout.log')}\n{_tail(kafka.logs_dir / 'server.log')}"
            )
        if time.monotonic() > deadline:
            raise LocalKafkaError(
                f"the broker (pid {pid}) did not answer at {kafka.address} within {timeout_s}s; "
                f"see {kafka.logs_dir}"
            )
        time.sleep(0.3)
    return status(kafka)


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _spawn(kafka: LocalKafka, java: str, jars: Path) -> int:
    command = [
        java,
        f"-Xmx{kafka.settings.kafka_heap}",
        "-Xms256m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={kafka.log4j_config}",
        f"-Dkafka.logs.dir={kafka.logs_dir}",
        "-cp",
        f"{jars}/*",
        "kafka.Kafka",
        str(kafka.properties_file),
    ]
    with (kafka.logs_dir / "stdout.log").open("ab") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=kafka.state_dir,
            start_new_session=True,  # Ctrl-C in the terminal must not kill the broker
        )
    _SPAWNED[process.pid] = process
    kafka.pid_file.write_text(f"{process.pid}\n")
    return process.pid


def down(kafka: LocalKafka, *, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stop the broker gridwatch started (by its PID), cleanly; idempotent.

    Returns:
        True if a broker was stopped, False if none of ours was running.
    """
    pid = _running_pid(kafka)
    if pid is None:
        kafka.pid_file.unlink(missing_ok=True)
        return False
    process = psutil.Process(pid)
    process.send_signal(signal.SIGTERM)  # controlled shutdown
    try:
        process.wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        process.kill()
        with contextlib.suppress(psutil.TimeoutExpired):
            process.wait(timeout=10)
    child = _SPAWNED.pop(pid, None)
    if child is not None:
        child.wait(timeout=10)
    kafka.pid_file.unlink(missing_ok=True)
    return True
