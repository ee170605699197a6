"""Security settings as kafka-python options, and the diagnosis of a refused connection.

Every kafka-python client gridwatch opens (producers, consumers, the admin
client and the broker probe) takes its ``security_protocol``, SASL and TLS
options from :func:`kafka_python_auth`.

kafka-python 3.0 does not say why a secure connection failed: a refused SASL
login or an untrusted certificate ends as "Unable to bootstrap" after its
timeout. :func:`diagnose_refusal` then connects once the way the worker does
(aiokafka, with the options Faust derives from
:func:`streams.runtime.kafka_auth.faust_credentials`), which reports the
broker's own reason, and :func:`explain_silence` tells a TLS listener from a
plaintext one. :mod:`streams.broker.admin` turns both into
``BrokerAuthenticationError``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from streams.core.kafka_security import KafkaSecurity


def kafka_python_auth(security: KafkaSecurity) -> dict[str, Any]:
    """kafka-python options for ``security``: protocol, SASL credentials, TLS context.

    TLS goes through one :class:`ssl.SSLContext` (the same the worker uses), so
    kafka-python's own ``ssl_*`` file options are never needed.

    Raises:
        KafkaSecurityError: A TLS file cannot be loaded.
    """
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.uses_ssl:
        options["ssl_context"] = security.ssl_context()
    if security.uses_sasl and security.sasl_password is not None:  # KafkaSecurity checked both
        options["sasl_mechanism"] = security.sasl_mechanism
        options["sasl_plain_username"] = security.sasl_username
        options["sasl_plain_password"] = security.sasl_password.get_secret_value()
    return options


def diagnose_refusal(bootstrap: str, security: KafkaSecurity, timeout_s: float) -> str | None:
    """Why a TLS or SASL connection to ``bootstrap`` is refused, in the broker's words.

    Connects once to the first server with aiokafka and the worker's options.

    Returns:
        ``authentication failed: …`` or ``TLS verification failed: …``; None when
        the connection succeeds or fails for another reason (nothing listens, a
        broker still starting), or the protocol is PLAINTEXT.
    """
    if security.protocol == "PLAINTEXT":
        return None
    # Imported here: only a failing connection needs them (faust is slow to import).
    from aiokafka.conn import create_conn
    from aiokafka.errors import KafkaError as AIOKafkaError
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from streams.runtime.kafka_auth import faust_credentials

    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    options = credentials_to_aiokafka_auth(faust_credentials(security))

    async def connect() -> str | None:
        try:
            connection = await create_conn(
                host or "127.0.0.1",
                int(port),
                request_timeout_ms=int(timeout_s * 1000),
                **options,
            )
        except ssl.SSLError as exc:
            return f"TLS verification failed: {exc}"
        except AIOKafkaError as exc:
            name = type(exc).__name__
            if "Authentication" in name or "Sasl" in name:
                return (
                    f"authentication failed ({exc}); check GRIDWATCH_SASL_USERNAME, "
                    "GRIDWATCH_SASL_PASSWORD and GRIDWATCH_SASL_MECHANISM"
                )
            return None
        except (OSError, TimeoutError):
            return None
        connection.close()
        return None

    try:
        return asyncio.run(asyncio.wait_for(connect(), timeout=timeout_s + 1.0))
    except TimeoutError:
        return None


def explain_silence(bootstrap: str, security: KafkaSecurity, timeout_s: float) -> str | None:
    """Why an open port does not answer Kafka requests, when the security protocol is the cause.

    A client speaking PLAINTEXT to a TLS listener (or TLS to a plaintext one)
    only sees the connection close; this probes the first reachable server
    with a TLS handshake to tell which.

    Returns:
        A sentence naming the mismatch, or None if the protocol looks right.
    """
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        speaks_tls = _speaks_tls(host or "127.0.0.1", int(port), timeout_s)
        if speaks_tls is None:
            continue
        if speaks_tls and not security.uses_ssl:
            return (
                f"the listener at {server.strip()} speaks TLS but GRIDWATCH_SECURITY_PROTOCOL is "
                f"{security.protocol}: the broker requires TLS (and probably SASL); set "
                "GRIDWATCH_SECURITY_PROTOCOL=SASL_SSL (or SSL) with its credentials"
            )
        if not speaks_tls and security.uses_ssl:
            return (
                f"the listener at {server.strip()} does not speak TLS but "
                f"GRIDWATCH_SECURITY_PROTOCOL is {security.protocol}"
            )
        return None
    return None


def _speaks_tls(host: str, port: int, timeout_s: float) -> bool | None:
    """Whether ``host:port`` completes a TLS handshake; None when it cannot be reached."""
    # Only a probe of the protocol: no certificate is trusted and no data is sent.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            try:
                with context.wrap_socket(raw, server_hostname=host):
                    return True
            except (ssl.SSLError, OSError):
                return False
    except OSError:
        return None
