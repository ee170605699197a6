"""Dead-letter records: why a message was rejected, with its original bytes."""

from __future__ import annotations

import base64
from enum import StrEnum

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
    PROCESSING_ERROR = "processing_error"
    """gridwatch failed on this message (a bug); kept here instead of stopping the worker."""


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
    value_b64: str | None = Field(default=None, description="Original value bytes, base64.")

    def original_value(self) -> bytes | None:
        """Return the original message value bytes."""
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)

    def original_key(self) -> bytes | None:
        """Return the original message key bytes."""
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)
