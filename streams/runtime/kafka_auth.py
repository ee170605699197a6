"""Security settings as Faust broker credentials: the one translation for the worker.

faust-streaming 0.15 hands ``broker_credentials`` to every aiokafka client it
opens (consumers, producers, the topic-creating client) through
``credentials_to_aiokafka_auth``: ``SASLCredentials`` become
``security_protocol`` ``SASL_SSL`` (with a TLS context) or ``SASL_PLAINTEXT``,
the mechanism and the user; ``SSLCredentials`` become ``SSL``. The broker URL
keeps its ``kafka://`` scheme.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.core.kafka_security import KafkaSecurity


def faust_credentials(security: KafkaSecurity) -> Any:
    """Faust's ``broker_credentials`` for ``security``; None for PLAINTEXT.

    The TLS context is :meth:`KafkaSecurity.ssl_context`, the one the tools use too.

    Raises:
        KafkaSecurityError: A TLS file cannot be loaded.
    """
    context = security.ssl_context()
    if security.uses_sasl and security.sasl_password is not None:  # KafkaSecurity checked both
        # Faust derives SASL_SSL from the context's presence, SASL_PLAINTEXT from its absence.
        return faust.SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=security.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
