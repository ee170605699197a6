"""TLS material and SCRAM users of a secure local broker (``gridwatch kafka up --secure``).

Everything lives in ``<state dir>/secure`` (mode 0700):

- ``ca.pem``: the certificate of a CA made for this start of the broker; its
  key is never written, so nothing else can be signed with it.
- ``broker.pem``: the broker's private key and certificate chain (PEM
  keystore, mode 0600), for ``127.0.0.1`` and ``localhost``.
- ``client.env``: the ``GRIDWATCH_*`` settings of the client user, password
  included (mode 0600); ``set -a; . client.env; set +a`` loads them.
- ``broker.secret``: the password of the broker's own user, which it uses to
  reach itself over the SASL_SSL listener (mode 0600).

The users are created in the KRaft metadata by Kafka's own ``StorageTool
format --add-scram``; the passwords are random and are kept across restarts
of the same storage, the certificates are made anew at every start.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr

from streams.core.kafka_security import KafkaSecurity, SaslMechanism

CLIENT_USER: Final = "gridwatch"
BROKER_USER: Final = "gridwatch-broker"
MECHANISM: Final[SaslMechanism] = "SCRAM-SHA-512"
CERT_DAYS: Final = 30
"""Validity of the generated certificates; they are made anew at every start."""

_PRIVATE: Final = 0o600
_PRIVATE_DIR: Final = 0o700

# The CA signs certificates only.
_CA_KEY_USAGE: Final = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
# The broker is a TLS server, and a TLS client of its own listener.
_BROKER_USAGES: Final = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]


@dataclass(frozen=True, slots=True)
class SecureFiles:
    """Paths of a secure broker's TLS material and credentials.

    Attributes:
        directory: The folder holding them (mode 0700).
    """

    directory: Path

    @property
    def ca(self) -> Path:
        """PEM certificate of the CA that signed the broker's (clients trust it)."""
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        """PEM private key and certificate chain of the broker (mode 0600)."""
        return self.directory / "broker.pem"

    @property
    def client_env(self) -> Path:
        """``GRIDWATCH_*`` settings of the client user, password included (mode 0600)."""
        return self.directory / "client.env"

    @property
    def broker_secret(self) -> Path:
        """Password of the broker's own SCRAM user (mode 0600)."""
        return self.directory / "broker.secret"

    def exists(self) -> bool:
        """Whether the users of a secure broker were created here."""
        return self.client_env.is_file() and self.broker_secret.is_file()


@dataclass(frozen=True, slots=True)
class ScramUsers:
    """The two SCRAM users of a secure local broker.

    Attributes:
        client_password: Password of :data:`CLIENT_USER`, whom gridwatch's clients log in as.
        broker_password: Password of :data:`BROKER_USER`, whom the broker logs in as.
    """

    client_password: SecretStr
    broker_password: SecretStr

    @classmethod
    def generate(cls) -> ScramUsers:
        """Two new random passwords (URL-safe: no quote, comma or bracket to escape)."""
        return cls(SecretStr(secrets.token_urlsafe(24)), SecretStr(secrets.token_urlsafe(24)))

    def redact(self, text: str) -> str:
        """``text`` with both passwords masked (a tool may echo its arguments)."""
        for password in (self.client_password, self.broker_password):
            text = text.replace(password.get_secret_value(), "**********")
        return text

    def format_arguments(self) -> list[str]:
        """``StorageTool format`` arguments that create both users (they hold the passwords)."""
        return [
            argument
            for name, password in (
                (CLIENT_USER, self.client_password),
                (BROKER_USER, self.broker_password),
            )
            for argument in (
                "--add-scram",
                f"{MECHANISM}=[name={name},password={password.get_secret_value()}]",
            )
        ]


def listener_properties(files: SecureFiles, users: ScramUsers) -> list[str]:
    """server.properties lines of the SASL_SSL listener (they hold the broker user's password)."""
    login = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{BROKER_USER}" '
        f'password="{users.broker_password.get_secret_value()}";'
    )
    return [
        "# Secure mode: TLS with a certificate made for this start, SCRAM users in KRaft metadata.",
        f"sasl.enabled.mechanisms={MECHANISM}",
        f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config={login}",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={files.keystore}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={files.ca}",
        "ssl.client.auth=none",
        "ssl.endpoint.identification.algorithm=https",
    ]


def client_security(files: SecureFiles, users: ScramUsers) -> KafkaSecurity:
    """The settings gridwatch's clients use to reach the secure broker."""
    return KafkaSecurity(
        protocol="SASL_SSL",
        sasl_mechanism=MECHANISM,
        sasl_username=CLIENT_USER,
        sasl_password=users.client_password,
        ssl_cafile=files.ca,
    )


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read, created so from the start."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def prepare_directory(files: SecureFiles) -> None:
    """Create the folder, readable by its owner alone."""
    files.directory.mkdir(parents=True, exist_ok=True)
    files.directory.chmod(_PRIVATE_DIR)


def save_users(files: SecureFiles, users: ScramUsers, bootstrap: str) -> None:
    """Write ``client.env`` (with ``GRIDWATCH_BOOTSTRAP``) and ``broker.secret``, mode 0600."""
    variables = {
        "GRIDWATCH_BOOTSTRAP": bootstrap,
        **client_security(files, users).environment(with_password=True),
    }
    lines = ["# gridwatch kafka up --secure: settings of the local broker's client user."]
    lines += [f"{name}={shlex.quote(value)}" for name, value in variables.items()]
    write_private(files.client_env, "\n".join(lines) + "\n")
    write_private(files.broker_secret, users.broker_password.get_secret_value() + "\n")


def load_users(files: SecureFiles) -> ScramUsers:
    """Read the passwords written by :func:`save_users`.

    Raises:
        ValueError: ``client.env`` holds no password.
    """
    client_password = read_env_file(files.client_env).get("GRIDWATCH_SASL_PASSWORD")
    if not client_password:
        raise ValueError(f"{files.client_env} holds no GRIDWATCH_SASL_PASSWORD")
    broker_password = files.broker_secret.read_text().strip()
    return ScramUsers(SecretStr(client_password), SecretStr(broker_password))


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a shell-quoted env file (comments and blank lines skipped)."""
    variables: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, value = line.partition("=")
        words = shlex.split(value)
        variables[name.strip()] = words[0] if words else ""
    return variables


def generate_certificates(files: SecureFiles, *, now: datetime.datetime) -> None:
    """A new CA, and a broker certificate it signs for 127.0.0.1 and localhost.

    The CA's key stays in memory; only its certificate is written.

    Args:
        files: Where to write ``ca.pem`` and ``broker.pem``.
        now: Start of the certificates' validity (timezone-aware).
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gridwatch local Kafka CA")])
    not_before = now - datetime.timedelta(minutes=5)  # tolerate a little clock skew
    not_after = now + datetime.timedelta(days=CERT_DAYS)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_KEY_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage(_BROKER_USAGES), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    # Unencrypted PKCS#8: Kafka's PEM keystore reads it without ssl.key.password, and
    # the file's 0600 mode protects it as a password file would.
    key_pem = broker_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    chain_pem = broker_cert.public_bytes(pem).decode() + ca_cert.public_bytes(pem).decode()
    write_private(files.keystore, key_pem + chain_pem)
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.ca.chmod(0o644)
