"""TLS and SASL settings: validation, the two client translations, secrets that never show.

No broker: the certificates come from the secure local broker's own generator.
"""

from __future__ import annotations

import ssl
import stat
from datetime import UTC, datetime
from pathlib import Path

import faust
import pytest
from click.testing import CliRunner
from cryptography import x509
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr, ValidationError

from streams.broker import local as kafka_local
from streams.broker import local_secure
from streams.broker.auth import kafka_python_auth
from streams.broker.clients import client_options
from streams.broker.local import LocalKafka, LocalKafkaError, broker_properties
from streams.broker.local_secure import ScramUsers, SecureFiles
from streams.cli.main import cli
from streams.core.kafka_security import PLAINTEXT, KafkaSecurity, KafkaSecurityError
from streams.core.settings import Settings
from streams.runtime.app import create_app
from streams.runtime.kafka_auth import faust_credentials

PASSWORD = "pa55-Never-Shown"
SECURITY_VARIABLES = (
    "SECURITY_PROTOCOL",
    "SASL_MECHANISM",
    "SASL_USERNAME",
    "SASL_PASSWORD",
    "SSL_CAFILE",
    "SSL_CERTFILE",
    "SSL_KEYFILE",
)


@pytest.fixture(autouse=True)
def _no_security_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECURITY_VARIABLES:
        monkeypatch.delenv(f"GRIDWATCH_{name}", raising=False)


@pytest.fixture
def tls_files(tmp_path: Path) -> SecureFiles:
    """A CA and a certificate it signs for 127.0.0.1, as `kafka up --secure` makes them."""
    files = SecureFiles(tmp_path / "secure")
    local_secure.prepare_directory(files)
    local_secure.generate_certificates(files, now=datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    return files


def sasl_ssl(tls_files: SecureFiles, **extra: object) -> Settings:
    return Settings(
        security_protocol="SASL_SSL",
        sasl_username="gridwatch",
        sasl_password=PASSWORD,
        ssl_cafile=tls_files.ca,
        **extra,  # type: ignore[arg-type]  # keyword settings of the test
    )


def test_security_is_off_by_default() -> None:
    settings = Settings()
    assert settings.kafka_security == PLAINTEXT
    assert kafka_python_auth(settings.kafka_security) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings.kafka_security) is None
    assert client_options(settings) == {
        "bootstrap_servers": ["127.0.0.1:9092"],
        "security_protocol": "PLAINTEXT",
    }


def test_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tls_files: SecureFiles
) -> None:
    monkeypatch.setenv("GRIDWATCH_SECURITY_PROTOCOL", "sasl_ssl")  # case does not matter
    monkeypatch.setenv("GRIDWATCH_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("GRIDWATCH_SASL_USERNAME", "ops")
    monkeypatch.setenv("GRIDWATCH_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("GRIDWATCH_SSL_CAFILE", str(tls_files.ca))
    security = Settings().kafka_security
    assert security.protocol == "SASL_SSL"
    assert security.sasl_mechanism == "SCRAM-SHA-256"
    assert security.sasl_username == "ops"
    assert security.sasl_password == SecretStr(PASSWORD)
    assert security.ssl_cafile == tls_files.ca
    assert security.describe() == "SASL_SSL (SCRAM-SHA-256 as ops)"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"security_protocol": "SASL_SSL", "sasl_username": "ops"},
            "SASL_SSL needs a user and a password",
        ),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_password": PASSWORD},
            "SASL_PLAINTEXT needs a user and a password",
        ),
        (
            {"sasl_username": "ops", "sasl_password": PASSWORD},
            "PLAINTEXT does not use SASL",
        ),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u", "sasl_password": "p",
             "ssl_cafile": "ca.pem"},
            "GRIDWATCH_SSL_CAFILE set but GRIDWATCH_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use",
        ),
        (
            {"security_protocol": "SSL", "ssl_keyfile": "key.pem"},
            "GRIDWATCH_SSL_KEYFILE needs GRIDWATCH_SSL_CERTFILE",
        ),
        (
            {"security_protocol": "SSL", "ssl_cafile": "/no/such/ca.pem"},
            "GRIDWATCH_SSL_CAFILE=/no/such/ca.pem is not a readable file",
        ),
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ],
)  # fmt: skip
def test_combinations_that_cannot_work_are_refused_with_a_clear_error(
    settings: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as error:
        Settings(**settings)  # type: ignore[arg-type]  # keyword settings of the test
    assert PASSWORD not in str(error.value)


def test_an_unreadable_ca_file_is_refused_at_the_edge(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ValidationError, match="cannot load GRIDWATCH_SSL_CAFILE"):
        Settings(security_protocol="SSL", ssl_cafile=bogus)


def test_sasl_ssl_becomes_kafka_python_options(tls_files: SecureFiles) -> None:
    options = client_options(sasl_ssl(tls_files, bootstrap="k1:9093,k2:9093"))
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": ["k1:9093", "k2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "gridwatch",
        "sasl_plain_password": PASSWORD,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [cert["subject"] for cert in context.get_ca_certs()] == [
        ((("commonName", "gridwatch local Kafka CA"),),)
    ]


def test_sasl_plaintext_and_mutual_tls_become_kafka_python_options(
    tls_files: SecureFiles,
) -> None:
    plain = KafkaSecurity(
        protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
        sasl_password=SecretStr(PASSWORD),
    )  # fmt: skip
    assert kafka_python_auth(plain) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": PASSWORD,
    }
    # The broker's keystore holds a key and a chain, as a client's PEM file would.
    mutual = KafkaSecurity(protocol="SSL", ssl_cafile=tls_files.ca, ssl_certfile=tls_files.keystore)
    options = kafka_python_auth(mutual)
    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "sasl_plain_password" not in options


def test_faust_credentials_reach_aiokafka_as_the_tools_options(tls_files: SecureFiles) -> None:
    security = sasl_ssl(tls_files).kafka_security
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    aiokafka = credentials_to_aiokafka_auth(credentials)
    tools = kafka_python_auth(security)
    assert aiokafka["security_protocol"] == tools["security_protocol"] == "SASL_SSL"
    assert aiokafka["sasl_mechanism"] == tools["sasl_mechanism"] == "SCRAM-SHA-512"
    assert aiokafka["sasl_plain_username"] == tools["sasl_plain_username"] == "gridwatch"
    assert aiokafka["sasl_plain_password"] == tools["sasl_plain_password"] == PASSWORD
    assert isinstance(aiokafka["ssl_context"], ssl.SSLContext)
    assert aiokafka["ssl_context"].get_ca_certs() == tools["ssl_context"].get_ca_certs()

    without_tls = KafkaSecurity(
        protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password=SecretStr(PASSWORD)
    )
    assert credentials_to_aiokafka_auth(faust_credentials(without_tls)) == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "u",
        "sasl_plain_password": PASSWORD,
        "ssl_context": None,
    }
    tls_only = faust_credentials(KafkaSecurity(protocol="SSL", ssl_cafile=tls_files.ca))
    assert credentials_to_aiokafka_auth(tls_only)["security_protocol"] == "SSL"


def test_the_worker_app_gets_the_credentials(tmp_path: Path, tls_files: SecureFiles) -> None:
    gridwatch = create_app(sasl_ssl(tls_files, home=tmp_path))
    credentials = gridwatch.app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert gridwatch.app.conf.broker[0].scheme == "kafka"


def test_the_password_never_shows(tls_files: SecureFiles, tmp_path: Path) -> None:
    settings = sasl_ssl(tls_files, home=tmp_path)
    security = settings.kafka_security
    shown = [
        repr(settings),
        str(settings),
        repr(security),
        security.describe(),
        repr(faust_credentials(security)),
        str(security.environment(with_password=False)),
        settings.model_dump_json(),
    ]
    for text in shown:
        assert PASSWORD not in text
    assert security.environment(with_password=True)["GRIDWATCH_SASL_PASSWORD"] == PASSWORD


@pytest.mark.parametrize(
    "command", [[], ["kafka"], ["kafka", "up"], ["worker"], ["topics", "create"], ["replay"]]
)
def test_help_never_shows_the_password(tls_files: SecureFiles, command: list[str]) -> None:
    env = {
        "GRIDWATCH_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWATCH_SASL_USERNAME": "gridwatch",
        "GRIDWATCH_SASL_PASSWORD": PASSWORD,
        "GRIDWATCH_SSL_CAFILE": str(tls_files.ca),
    }
    result = CliRunner(env=env).invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert PASSWORD not in result.output


def test_a_refused_setting_does_not_echo_the_password() -> None:
    env = {"GRIDWATCH_SASL_USERNAME": "gridwatch", "GRIDWATCH_SASL_PASSWORD": PASSWORD}
    result = CliRunner(env=env).invoke(cli, ["topics", "create"])
    assert result.exit_code == 2
    assert "does not use SASL" in result.output
    assert PASSWORD not in result.output


def test_generated_certificates_fit_the_local_broker(tls_files: SecureFiles) -> None:
    ca = x509.load_pem_x509_certificate(tls_files.ca.read_bytes())
    chain = x509.load_pem_x509_certificates(tls_files.keystore.read_bytes())
    broker = chain[0]
    broker.verify_directly_issued_by(ca)
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert b"-----BEGIN PRIVATE KEY-----" in tls_files.keystore.read_bytes()
    assert b"PRIVATE KEY" not in tls_files.ca.read_bytes()  # the CA's key is never written
    assert stat.S_IMODE(tls_files.keystore.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls_files.directory.stat().st_mode) == 0o700
    # Every client's context accepts the broker for 127.0.0.1, and for no other name.
    client = KafkaSecurity(protocol="SSL", ssl_cafile=tls_files.ca).ssl_context()
    assert client is not None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tls_files.keystore)
    tls_handshake(client, server, "127.0.0.1")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        tls_handshake(client, server, "kafka.example.com")


def tls_handshake(client: ssl.SSLContext, server: ssl.SSLContext, hostname: str) -> None:
    """A TLS handshake in memory between two contexts."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    sides = [
        client.wrap_bio(client_in, client_out, server_hostname=hostname),
        server.wrap_bio(server_in, server_out, server_side=True),
    ]
    done: set[int] = set()
    for _ in range(20):
        for index, side in enumerate(sides):
            if index not in done:
                try:
                    side.do_handshake()
                    done.add(index)
                except ssl.SSLWantReadError:
                    pass
        server_in.write(client_out.read())
        client_in.write(server_out.read())
        if len(done) == len(sides):
            return
    raise AssertionError("the TLS handshake did not finish")


def test_users_are_saved_for_the_owner_alone(tls_files: SecureFiles) -> None:
    users = ScramUsers.generate()
    local_secure.save_users(tls_files, users, "127.0.0.1:19092")
    for path in (tls_files.client_env, tls_files.broker_secret):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    variables = local_secure.read_env_file(tls_files.client_env)
    assert variables == {
        "GRIDWATCH_BOOTSTRAP": "127.0.0.1:19092",
        "GRIDWATCH_SECURITY_PROTOCOL": "SASL_SSL",
        "GRIDWATCH_SASL_MECHANISM": "SCRAM-SHA-512",
        "GRIDWATCH_SASL_USERNAME": "gridwatch",
        "GRIDWATCH_SASL_PASSWORD": users.client_password.get_secret_value(),
        "GRIDWATCH_SSL_CAFILE": str(tls_files.ca),
    }
    assert local_secure.load_users(tls_files) == users
    assert users.format_arguments() == [
        "--add-scram",
        f"SCRAM-SHA-512=[name=gridwatch,password={users.client_password.get_secret_value()}]",
        "--add-scram",
        f"SCRAM-SHA-512=[name=gridwatch-broker,password={users.broker_password.get_secret_value()}]",
    ]


def test_secure_broker_properties(tmp_path: Path) -> None:
    kafka = LocalKafka(Settings(home=tmp_path, kafka_port=19092))
    users = ScramUsers(SecretStr("client-pw"), SecretStr("broker-pw"))
    lines = dict(
        line.split("=", 1) for line in broker_properties(kafka, users).splitlines() if "=" in line
    )
    assert lines["listeners"] == "SASL_SSL://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert lines["advertised.listeners"] == "SASL_SSL://127.0.0.1:19092"
    assert lines["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert lines["inter.broker.listener.name"] == "SASL_SSL"
    assert lines["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert lines["ssl.keystore.type"] == lines["ssl.truststore.type"] == "PEM"
    assert lines["ssl.keystore.location"] == str(kafka.secure_files.keystore)
    jaas = lines["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert 'username="gridwatch-broker" password="broker-pw"' in jaas
    assert "client-pw" not in broker_properties(kafka, users)
    assert "SASL" not in broker_properties(kafka)


def test_kafka_security_refuses_bad_values_directly() -> None:
    with pytest.raises(KafkaSecurityError, match="needs a user and a password"):
        KafkaSecurity(protocol="SASL_SSL", sasl_username="u", sasl_password=SecretStr(""))


def test_a_storage_starts_only_in_the_mode_it_was_made_for(tmp_path: Path) -> None:
    kafka = LocalKafka(Settings(home=tmp_path, kafka_port=19092))
    kafka.data_dir.mkdir(parents=True)
    (kafka.data_dir / "meta.properties").write_text("formatted\n")
    with pytest.raises(LocalKafkaError, match="was made without TLS and SASL users"):
        kafka_local.up(kafka, secure=True)

    local_secure.prepare_directory(kafka.secure_files)
    local_secure.generate_certificates(kafka.secure_files, now=datetime(2026, 11, 27, tzinfo=UTC))
    local_secure.save_users(kafka.secure_files, ScramUsers.generate(), kafka.address)
    assert kafka.is_secure
    with pytest.raises(LocalKafkaError, match=r"was made secure \(SASL_SSL\)"):
        kafka_local.up(kafka)
