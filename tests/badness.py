"""A catalogue of invalid input messages and the dead-letter reason each must get.

Shared by the unit tests (codec) and the integration test (real broker), so
both tiers check the same policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import DeadLetterReason
from tests.factories import (
    hotline_factory,
    inspection_factory,
    sensor_factory,
    to_bytes,
    without,
)

R = DeadLetterReason


@dataclass(frozen=True)
class BadMessage:
    """An invalid message: which input topic it goes to, its bytes, the expected reason."""

    name: str
    role: str
    value: bytes
    reason: DeadLetterReason


def _far_future() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _naive_sensor_bytes() -> bytes:
    return to_bytes(sensor_factory(event_time="2026-11-27T08:00:00"))


# Each builder returns a fresh message (new ids) so a catalogue can be cycled.
BUILDERS: dict[str, tuple[str, Callable[[], bytes], DeadLetterReason]] = {
    "not_json": ("sensor", lambda: b"temperature=21.5;unit=C", R.NOT_JSON),
    "truncated_json": ("hotline", lambda: to_bytes(hotline_factory())[:-7], R.NOT_JSON),
    "not_utf8": ("sensor", lambda: b'{"kind": "sensor", "source": "\xff\xfe\xfa"}', R.NOT_UTF8),
    "json_array": ("inspection", lambda: b'[{"kind": "inspection"}]', R.NOT_OBJECT),
    "json_string": ("sensor", lambda: b'"just a string"', R.NOT_OBJECT),
    "json_number": ("hotline", lambda: b"42", R.NOT_OBJECT),
    "wrong_kind": ("sensor", lambda: to_bytes(sensor_factory(kind="weather")), R.UNKNOWN_KIND),
    "missing_kind": (
        "sensor",
        lambda: to_bytes(without(sensor_factory(), "kind")),
        R.MISSING_FIELD,
    ),
    "missing_asset_id": (
        "sensor",
        lambda: to_bytes(without(sensor_factory(), "asset_id")),
        R.MISSING_FIELD,
    ),
    "missing_event_time": (
        "inspection",
        lambda: to_bytes(without(inspection_factory(), "event_time")),
        R.MISSING_FIELD,
    ),
    "id_is_number": ("sensor", lambda: to_bytes(sensor_factory(sensor_id=1234)), R.WRONG_TYPE),
    "value_is_string": ("sensor", lambda: to_bytes(sensor_factory(value="310.5")), R.WRONG_TYPE),
    "lat_is_string": ("hotline", lambda: to_bytes(hotline_factory(lat="31.23")), R.WRONG_TYPE),
    "severity_is_string": (
        "inspection",
        lambda: to_bytes(inspection_factory(severity="4")),
        R.WRONG_TYPE,
    ),
    "value_nan": (
        "sensor",
        lambda: to_bytes(sensor_factory(value=0)).replace(b'"value":0', b'"value":NaN'),
        R.NON_FINITE_NUMBER,
    ),
    "value_infinity": (
        "sensor",
        lambda: to_bytes(sensor_factory(value=0)).replace(b'"value":0', b'"value":-Infinity'),
        R.NON_FINITE_NUMBER,
    ),
    "value_overflow": (
        "sensor",
        lambda: to_bytes(sensor_factory(value=0)).replace(b'"value":0', b'"value":1e999'),
        R.NON_FINITE_NUMBER,
    ),
    "lat_out_of_range": ("hotline", lambda: to_bytes(hotline_factory(lat=91.5)), R.OUT_OF_RANGE),
    "long_out_of_range": (
        "hotline",
        lambda: to_bytes(hotline_factory(long=-181.0)),
        R.OUT_OF_RANGE,
    ),
    "severity_out_of_range": (
        "inspection",
        lambda: to_bytes(inspection_factory(severity=9)),
        R.OUT_OF_RANGE,
    ),
    "oversize_message": (
        "sensor",
        lambda: to_bytes(sensor_factory(padding="x" * 100_000)),
        R.OVERSIZE,
    ),
    "oversize_description": (
        "hotline",
        lambda: to_bytes(hotline_factory(description="漏水" * 2001)),
        R.TOO_LONG,
    ),
    "event_id_too_long": (
        "inspection",
        lambda: to_bytes(inspection_factory(event_id="e" * 129)),
        R.TOO_LONG,
    ),
    "future_event_time": (
        "sensor",
        lambda: to_bytes(sensor_factory(event_time=_far_future())),
        R.FUTURE_EVENT_TIME,
    ),
    "naive_event_time": ("sensor", _naive_sensor_bytes, R.NAIVE_EVENT_TIME),
    "epoch_event_time": (
        "inspection",
        lambda: to_bytes(inspection_factory(event_time=1795824000)),
        R.WRONG_TYPE,
    ),
    "bad_status": ("hotline", lambda: to_bytes(hotline_factory(status="pending")), R.INVALID_VALUE),
    "metric_not_snake_case": (
        "sensor",
        lambda: to_bytes(sensor_factory(metric="Water Pressure")),
        R.INVALID_VALUE,
    ),
    "empty_value": ("inspection", lambda: b"", R.EMPTY),
    # 2.2 KB of brackets: once a RecursionError that cost a whole batch.
    "nested_brackets": ("sensor", lambda: b"[" * 1100 + b"]" * 1100, R.TOO_DEEP),
    "field_nested_brackets": (
        "hotline",
        lambda: to_bytes(hotline_factory()).replace(
            b'"status":', b'"extra":' + b"[" * 600 + b"]" * 600 + b',"status":'
        ),
        R.TOO_DEEP,
    ),
    "unclosed_brackets": ("inspection", lambda: b"[" * 2200, R.TOO_DEEP),
}


def catalogue(count: int) -> list[BadMessage]:
    """Return ``count`` invalid messages, cycling through every kind of badness."""
    names = list(BUILDERS)
    messages = []
    for i in range(count):
        name = names[i % len(names)]
        role, build, reason = BUILDERS[name]
        messages.append(BadMessage(name, role, build(), reason))
    return messages
