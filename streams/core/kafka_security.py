"""How gridwatch's Kafka clients authenticate and encrypt: one value, checked once.

:class:`KafkaSecurity` is the security part of the settings
(``GRIDWATCH_SECURITY_PROTOCOL``, ``GRIDWATCH_SASL_*``, ``GRIDWATCH_SSL_*``).
The client families translate it in one place each:
:func:`streams.broker.auth.kafka_python_auth` for the tools' kafka-python
clients and :func:`streams.runtime.kafka_auth.faust_credentials` for the
worker. Both use the TLS context built here, so every client verifies the
brokers the same way.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
"""Kafka's ``security.protocol`` values."""

SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
"""The SASL mechanisms gridwatch supports (all three speak to kafka-python and aiokafka)."""

ENV_PREFIX = "GRIDWATCH_"


class KafkaSecurityError(ValueError):
    """The security settings do not fit together, or their files cannot be used."""


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The protocol, SASL credentials and TLS files every Kafka client uses.

    The password is a :class:`~pydantic.SecretStr`: ``repr`` and ``str`` show
    asterisks; only :meth:`~pydantic.SecretStr.get_secret_value` reveals it,
    and only the client translations call it.

    Attributes:
        protocol: Kafka's security protocol.
        sasl_mechanism: SASL mechanism, used with ``SASL_*`` protocols.
        sasl_username: SASL user, required with ``SASL_*``.
        sasl_password: SASL password, required with ``SASL_*``.
        ssl_cafile: PEM CA certificates that sign the brokers'; the system's if None.
        ssl_certfile: PEM client certificate (mutual TLS), may also hold the key.
        ssl_keyfile: PEM private key of ``ssl_certfile``.

    Raises:
        KafkaSecurityError: On construction, when the values do not fit together.
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    def __post_init__(self) -> None:
        setting = f"{ENV_PREFIX}SECURITY_PROTOCOL={self.protocol}"
        has_password = bool(self.sasl_password and self.sasl_password.get_secret_value())
        if self.uses_sasl:
            if not self.sasl_username or not has_password:
                raise KafkaSecurityError(
                    f"{setting} needs a user and a password: set {ENV_PREFIX}SASL_USERNAME "
                    f"and {ENV_PREFIX}SASL_PASSWORD"
                )
        elif self.sasl_username or self.sasl_password is not None:
            # Credentials that would be silently ignored make a plaintext connection look secure.
            raise KafkaSecurityError(
                f"{ENV_PREFIX}SASL_USERNAME/{ENV_PREFIX}SASL_PASSWORD are set but {setting} "
                "does not use SASL: set it to SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
        files = {
            "SSL_CAFILE": self.ssl_cafile,
            "SSL_CERTFILE": self.ssl_certfile,
            "SSL_KEYFILE": self.ssl_keyfile,
        }
        given = {name: path for name, path in files.items() if path is not None}
        if given and not self.uses_ssl:
            names = ", ".join(ENV_PREFIX + name for name in given)
            raise KafkaSecurityError(
                f"{names} set but {setting} does not use TLS: set it to SSL or SASL_SSL, "
                "or unset them"
            )
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise KafkaSecurityError(
                f"{ENV_PREFIX}SSL_KEYFILE needs {ENV_PREFIX}SSL_CERTFILE (the client certificate)"
            )
        for name, path in given.items():
            if not path.is_file():
                raise KafkaSecurityError(f"{ENV_PREFIX}{name}={path} is not a readable file")

    @property
    def uses_sasl(self) -> bool:
        """Whether clients authenticate with SASL."""
        return self.protocol in ("SASL_PLAINTEXT", "SASL_SSL")

    @property
    def uses_ssl(self) -> bool:
        """Whether connections are encrypted with TLS."""
        return self.protocol in ("SSL", "SASL_SSL")

    def describe(self) -> str:
        """A short description without secrets, e.g. ``SASL_SSL (SCRAM-SHA-512 as gridwatch)``."""
        if self.uses_sasl:
            return f"{self.protocol} ({self.sasl_mechanism} as {self.sasl_username})"
        return self.protocol

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of every client: verifies the broker's certificate and host name.

        Returns:
            None when the protocol does not use TLS.

        Raises:
            KafkaSecurityError: A CA, certificate or key file cannot be loaded.
        """
        if not self.uses_ssl:
            return None
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH,
                cafile=str(self.ssl_cafile) if self.ssl_cafile is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"cannot load {ENV_PREFIX}SSL_CAFILE={self.ssl_cafile}: {exc}"
            ) from exc
        if self.ssl_certfile is not None:
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise KafkaSecurityError(
                    f"cannot load the client certificate {self.ssl_certfile}"
                    f"{f' with key {self.ssl_keyfile}' if self.ssl_keyfile else ''}: {exc}"
                ) from exc
        return context

    def environment(self, *, with_password: bool) -> dict[str, str]:
        """The ``GRIDWATCH_*`` variables that select this security (none for PLAINTEXT).

        Args:
            with_password: Include ``GRIDWATCH_SASL_PASSWORD`` in clear; only for
                a file readable by its owner alone, or a child process's environment.
        """
        names: dict[str, str | Path | None] = {"SECURITY_PROTOCOL": self.protocol}
        if self.uses_sasl:
            names["SASL_MECHANISM"] = self.sasl_mechanism
            names["SASL_USERNAME"] = self.sasl_username
            if with_password and self.sasl_password is not None:
                names["SASL_PASSWORD"] = self.sasl_password.get_secret_value()
        names["SSL_CAFILE"] = self.ssl_cafile
        names["SSL_CERTFILE"] = self.ssl_certfile
        names["SSL_KEYFILE"] = self.ssl_keyfile
        return {ENV_PREFIX + name: str(value) for name, value in names.items() if value is not None}


PLAINTEXT = KafkaSecurity()
"""No TLS, no SASL: the default, and what a local development broker speaks."""
