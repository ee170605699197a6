"""The one codec between Kafka bytes and gridwatch models.

Every message that enters gridwatch is decoded here, once; everything after
this point handles typed, frozen models. Rejections carry a machine-readable
:class:`~schemas.DeadLetterReason` and a human-readable detail.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from schemas._acks import INTERNAL_ADAPTER, Acknowledgement
from schemas._dead_letters import DeadLetterReason, FieldError
from schemas._events import EVENT_ADAPTER, HotlineCase, InspectionFinding, SensorReading

AnyEvent = SensorReading | HotlineCase | InspectionFinding
ModelT = TypeVar("ModelT", bound=BaseModel)
ValueT = TypeVar("ValueT")

_KINDS: Final = ("sensor", "hotline", "inspection")

MAX_DEPTH: Final = 16
"""Default nesting limit. The deepest valid gridwatch message (an asset with a
MultiPolygon: object, geometry, polygons, rings, positions) is 6 deep."""


@dataclass(frozen=True, slots=True)
class InputLimits:
    """Limits enforced on every input message, beyond what the models check.

    Attributes:
        max_message_bytes: Largest accepted message value.
        max_future_skew: How far ahead of the worker clock an event time may be.
        max_depth: Deepest nesting of arrays and objects (the message object is depth 1).
    """

    max_message_bytes: int = 64 * 1024
    max_future_skew: timedelta = timedelta(minutes=10)
    max_depth: int = MAX_DEPTH


class DecodeError(Exception):
    """A message could not be decoded or validated.

    Attributes:
        reason: Machine-readable reason.
        detail: Human-readable explanation.
        errors: Field-level errors when pydantic validation failed.
    """

    def __init__(
        self, reason: DeadLetterReason, detail: str, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.errors = errors or []


# pydantic error types → our reasons. Anything unlisted is INVALID_VALUE.
_ERROR_REASONS: Final[dict[str, DeadLetterReason]] = {
    "missing": DeadLetterReason.MISSING_FIELD,
    "union_tag_not_found": DeadLetterReason.MISSING_FIELD,
    "union_tag_invalid": DeadLetterReason.UNKNOWN_KIND,
    "string_too_long": DeadLetterReason.TOO_LONG,
    "too_long": DeadLetterReason.TOO_LONG,
    "greater_than": DeadLetterReason.OUT_OF_RANGE,
    "greater_than_equal": DeadLetterReason.OUT_OF_RANGE,
    "less_than": DeadLetterReason.OUT_OF_RANGE,
    "less_than_equal": DeadLetterReason.OUT_OF_RANGE,
    "finite_number": DeadLetterReason.NON_FINITE_NUMBER,
    "timezone_aware": DeadLetterReason.NAIVE_EVENT_TIME,
    "string_type": DeadLetterReason.WRONG_TYPE,
    "float_type": DeadLetterReason.WRONG_TYPE,
    "int_type": DeadLetterReason.WRONG_TYPE,
    "bool_type": DeadLetterReason.WRONG_TYPE,
    "list_type": DeadLetterReason.WRONG_TYPE,
    "dict_type": DeadLetterReason.WRONG_TYPE,
    "model_type": DeadLetterReason.WRONG_TYPE,
    "model_attributes_type": DeadLetterReason.WRONG_TYPE,
    "datetime_type": DeadLetterReason.WRONG_TYPE,
    "int_from_float": DeadLetterReason.WRONG_TYPE,
}


def _field_errors(errors: list[ErrorDetails]) -> list[FieldError]:
    return [
        FieldError(
            loc=".".join(str(part) for part in error["loc"]),
            type=error["type"],
            msg=error["msg"],
        )
        for error in errors
    ]


def _reason_for(error: ErrorDetails) -> DeadLetterReason:
    kind = error["type"]
    if kind == "value_error" and error["loc"] and error["loc"][-1] == "event_time":
        # Our own RFC 3339 guard: a number or other non-string where a time belongs.
        return DeadLetterReason.WRONG_TYPE
    return _ERROR_REASONS.get(kind, DeadLetterReason.INVALID_VALUE)


def _classify_json_failure(text: str, max_depth: int) -> DecodeError:
    # orjson rejects NaN/Infinity like any other invalid JSON. Tell them apart
    # so the producer learns it sent a non-finite number, not garbage.
    def _reject_constant(name: str) -> Any:
        raise _NonFiniteError(name)

    def _reject_overflow(literal: str) -> float:
        number = float(literal)
        if not math.isfinite(number):
            raise _NonFiniteError(literal[:32])
        return number

    try:
        json.loads(text, parse_constant=_reject_constant, parse_float=_reject_overflow)
    except _NonFiniteError as exc:
        return DecodeError(
            DeadLetterReason.NON_FINITE_NUMBER, f"JSON contains the non-finite number {exc}"
        )
    except RecursionError:
        return _too_deep(max_depth)  # broken JSON nested deep enough to exhaust the stack
    except ValueError as exc:
        return DecodeError(DeadLetterReason.NOT_JSON, f"not valid JSON: {exc}")
    return DecodeError(DeadLetterReason.NOT_JSON, "not valid JSON")


class _NonFiniteError(Exception):
    pass


def loads_object(
    raw: bytes | None, *, max_bytes: int, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    """Parse message bytes into a JSON object, enforcing size, UTF-8, depth and JSON rules.

    Args:
        raw: The message value.
        max_bytes: Largest accepted size.
        max_depth: Deepest accepted nesting of arrays and objects.

    Returns:
        The parsed JSON object.

    Raises:
        DecodeError: When the bytes are empty, too large, not UTF-8, nested too
            deep, not JSON, or not a JSON object.
    """
    if not raw:
        raise DecodeError(DeadLetterReason.EMPTY, "message has no value")
    if len(raw) > max_bytes:
        raise DecodeError(
            DeadLetterReason.OVERSIZE, f"message is {len(raw)} bytes; the limit is {max_bytes}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(DeadLetterReason.NOT_UTF8, f"not UTF-8: {exc}") from None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # orjson stops at 1024 levels by itself
            raise _too_deep(max_depth) from None
        raise _classify_json_failure(text, max_depth) from None
    if isinstance(value, dict | list):
        _check_depth(raw, value, max_depth)
    if not isinstance(value, dict):
        raise DecodeError(
            DeadLetterReason.NOT_OBJECT, f"expected a JSON object, got {type(value).__name__}"
        )
    return value


def _too_deep(max_depth: int) -> DecodeError:
    return DecodeError(
        DeadLetterReason.TOO_DEEP, f"arrays and objects are nested deeper than {max_depth} levels"
    )


def _check_depth(raw: bytes, value: Any, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` in a parsed value, without recursion.

    A message with no more brackets than the limit cannot be deeper: most
    messages are cleared by two byte counts and never walked.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return
    level: list[tuple[Any, int]] = [(value, 1)]
    while level:
        node, depth = level.pop()
        if depth > max_depth:
            raise _too_deep(max_depth)
        children = node.values() if isinstance(node, dict) else node
        level.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _validation_failure(exc: ValidationError) -> DecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    reason = _reason_for(first)
    loc = ".".join(str(part) for part in first["loc"]) or "(message)"
    detail = f"{loc}: {first['msg']}"
    if first["type"] == "union_tag_not_found":
        detail = "kind: field required (one of sensor, hotline, inspection)"
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return DecodeError(reason, detail, _field_errors(errors))


def decode_event(raw: bytes | None, *, limits: InputLimits, now: datetime) -> AnyEvent:
    """Decode and validate one input event.

    Args:
        raw: The Kafka message value.
        limits: Size and clock-skew limits.
        now: The worker's current time (timezone-aware), for the future check.

    Returns:
        The validated event.

    Raises:
        DecodeError: With the reason the message is rejected.
    """
    return _event_from(
        loads_object(raw, max_bytes=limits.max_message_bytes, max_depth=limits.max_depth),
        limits,
        now,
    )


def _event_from(obj: dict[str, Any], limits: InputLimits, now: datetime) -> AnyEvent:
    kind = obj.get("kind")
    if kind is not None and kind not in _KINDS:
        raise DecodeError(
            DeadLetterReason.UNKNOWN_KIND,
            f"kind {str(kind)[:64]!r} is not one of {', '.join(_KINDS)}",
        )
    event: AnyEvent = _validated(EVENT_ADAPTER.validate_python, obj)
    _not_in_future(event.event_time, limits, now)
    return event


def _validated(validate: Callable[[Any], ValueT], obj: Any) -> ValueT:
    """``validate(obj)``, with any failure turned into a DecodeError.

    A validation error gets its matching reason; anything else a validator
    raises (a bug) is ``internal_error``, so the decoders raise DecodeError only.
    """
    try:
        return validate(obj)
    except ValidationError as exc:
        raise _validation_failure(exc) from None
    except Exception as exc:  # a decoder raises DecodeError only
        raise DecodeError(
            DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {str(exc)[:500]}"
        ) from exc


def _not_in_future(event_time: datetime, limits: InputLimits, now: datetime) -> None:
    if event_time - now > limits.max_future_skew:
        raise DecodeError(
            DeadLetterReason.FUTURE_EVENT_TIME,
            f"event_time {event_time.isoformat()} is more than "
            f"{limits.max_future_skew} ahead of the worker clock",
        )


def decode_model(raw: bytes | None, model: type[ModelT], *, max_bytes: int = 1 << 20) -> ModelT:
    """Decode any gridwatch model (Asset, Alert, RiskState, DeadLetter …) from bytes.

    Raises:
        DecodeError: When the bytes do not hold a valid ``model``.
    """
    return _validated(model.model_validate, loads_object(raw, max_bytes=max_bytes))


def encode(model: BaseModel) -> bytes:
    """Encode a model as compact JSON (RFC 3339 times with offsets, ``null`` s omitted)."""
    return orjson.dumps(model.model_dump(mode="python", exclude_none=True))


def decode_internal(raw: bytes | None) -> AnyEvent | Acknowledgement:
    """Decode a message of the internal per-asset stream (validated events and acks).

    Raises:
        DecodeError: When the bytes are not a valid event or acknowledgement.
    """
    item: AnyEvent | Acknowledgement = _validated(
        INTERNAL_ADAPTER.validate_python, loads_object(raw, max_bytes=1 << 20)
    )
    return item


def decode_input(
    raw: bytes | None, *, limits: InputLimits, now: datetime
) -> AnyEvent | Acknowledgement:
    """Decode a line of an event log: an event, or an acknowledgement (``kind`` ``ack``).

    Raises:
        DecodeError: With the reason the line is rejected.
    """
    obj = loads_object(raw, max_bytes=limits.max_message_bytes, max_depth=limits.max_depth)
    if obj.get("kind") == "ack":
        ack = _validated(Acknowledgement.model_validate, obj)
        _not_in_future(ack.event_time, limits, now)
        return ack
    return _event_from(obj, limits, now)


def decode_ack(raw: bytes | None, *, limits: InputLimits, now: datetime) -> Acknowledgement:
    """Decode and validate an acknowledgement from the operations center.

    Raises:
        DecodeError: With the reason the message is rejected.
    """
    obj = loads_object(raw, max_bytes=limits.max_message_bytes, max_depth=limits.max_depth)
    obj.setdefault("kind", "ack")
    ack = _validated(Acknowledgement.model_validate, obj)
    _not_in_future(ack.event_time, limits, now)
    return ack
