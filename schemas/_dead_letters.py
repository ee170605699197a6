"""Dead-letter records: why a message was rejected, with its original bytes."""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterReason(StrEnum):
    """Machine-readable reasons a message was dead-lettered."""

    EMPTY = "empty"
    """The message had no value (null or zero bytes)."""
    OVERSIZE = "oversize"
    """The message is larger than the configured maximum."""
    NOT_UTF8 = "not_utf8"
    """The bytes are not valid UTF-8."""
    NOT_JSON = "not_json"
    """The text is not JSON."""
    NON_FINITE_NUMBER = "non_finite_number"
    """A number is NaN or infinite."""
    NOT_OBJECT = "not_object"
    """The JSON value is not an object."""
    TOO_DEEP = "too_deep"
    """Arrays and objects are nested deeper than the limit."""
    UNKNOWN_KIND = "unknown_kind"
    """``kind`` is not one of sensor, hotline, inspection."""
    MISSING_FIELD = "missing_field"
    """A required field (``kind`` included) is absent."""
    WRONG_TYPE = "wrong_type"
    """A field has the wrong JSON type, e.g. a string where a number belongs."""
    OUT_OF_RANGE = "out_of_range"
    """A number is outside its allowed range (coordinates, severity)."""
    TOO_LONG = "too_long"
    """A string is longer than its limit."""
    INVALID_VALUE = "invalid_value"
    """A value has the right type but is not allowed (bad status, bad name)."""
    NAIVE_EVENT_TIME = "naive_event_time"
    """``event_time`` has no UTC offset."""
    FUTURE_EVENT_TIME = "future_event_time"
    """``event_time`` is further in the future than the allowed clock skew."""
    LATE = "late"
    """The event arrived later than the allowed lateness (risk engine)."""
    INVALID_GEOMETRY = "invalid_geometry"
    """An asset's geometry passes the schema but cannot be built (a ring of 3 positions …)."""
    INTERNAL_ERROR = "internal_error"
    """gridwatch failed on this message (a bug); kept here instead of stopping the worker."""


MAX_KEPT_VALUE_BYTES: Final = 256 * 1024
"""The most of an original value a dead letter keeps: with base64 and the rest of
the letter it stays far below any producer's request limit (1 MiB by default)."""
MAX_KEPT_KEY_BYTES: Final = 1024
"""The most of an original key a dead letter keeps (and is keyed by)."""
MAX_DETAIL_CHARS: Final = 2000
"""The longest detail kept (an exception's text can be as long as its input)."""


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


class FieldError(BaseModel):
    """One validation error, as pydantic reported it."""

    model_config = ConfigDict(frozen=True)

    loc: str = Field(description="Dotted path of the offending field.")
    type: str = Field(description="pydantic error type, e.g. missing, float_type.")
    msg: str


class DeadLetter(BaseModel):
    """A rejected message as published on the dead-letter topic.

    Everything in it comes from the message and the rule it broke, nothing from
    the wall clock: a message dead-lettered again after a crash gives the same
    bytes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: DeadLetterReason
    detail: str = Field(description="Human-readable explanation.")
    errors: list[FieldError] = Field(default_factory=list)
    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int | None = Field(default=None, description="Kafka timestamp of the original.")
    key_b64: str | None = Field(default=None, description="Original key bytes, base64.")
    value_b64: str | None = Field(
        default=None,
        description="Original value bytes, base64; only the first MAX_KEPT_VALUE_BYTES of a "
        "larger value (value_truncated).",
    )
    value_size: int | None = Field(default=None, ge=0, description="Original value size, bytes.")
    value_sha256: str | None = Field(
        default=None, description="SHA-256 of the whole original value, hex."
    )
    value_truncated: bool = Field(
        default=False, description="value_b64 holds a prefix of the value, not all of it."
    )
    key_truncated: bool = Field(
        default=False, description="key_b64 holds a prefix of the key, not all of it."
    )

    def original_value(self) -> bytes | None:
        """Return the original message value bytes."""
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)

    def original_key(self) -> bytes | None:
        """Return the original message key bytes."""
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)


def bounded_dead_letter(
    reason: DeadLetterReason,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
) -> DeadLetter:
    """The dead letter of one message, bounded in size whatever the message.

    Only the message and the reason go in, nothing from the clock, so the same
    message gives the same bytes. A value above :data:`MAX_KEPT_VALUE_BYTES` is
    kept as a prefix with its size and SHA-256; a key above
    :data:`MAX_KEPT_KEY_BYTES` as a prefix; the detail and the field errors are
    capped, so the letter always fits in one produce request.
    """
    return DeadLetter(
        reason=reason,
        detail=detail[:MAX_DETAIL_CHARS],
        errors=(errors or [])[:20],
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
        key_b64=_b64(None if key is None else key[:MAX_KEPT_KEY_BYTES]),
        key_truncated=key is not None and len(key) > MAX_KEPT_KEY_BYTES,
        value_b64=_b64(None if value is None else value[:MAX_KEPT_VALUE_BYTES]),
        value_size=None if value is None else len(value),
        value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        value_truncated=value is not None and len(value) > MAX_KEPT_VALUE_BYTES,
    )
