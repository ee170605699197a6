"""Builders of valid wire events (as dicts and bytes), shared by every test tier."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

_counter = itertools.count()

BASE_TIME = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _time(offset_s: float = 0.0) -> str:
    return (BASE_TIME + timedelta(seconds=offset_s)).isoformat()


def sensor_factory(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    event = {
        "kind": "sensor",
        "event_id": f"sensor-{n}",
        "event_time": _time(n),
        "source": "scada-water",
        "sensor_id": f"ps-{n % 7}",
        "asset_id": f"wm-{n % 11:03d}",
        "metric": "water_pressure_kpa",
        "value": 310.5 + n % 13,
        "quality": "good",
    }
    event.update(overrides)
    return event


def hotline_factory(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    event = {
        "kind": "hotline",
        "event_id": f"hotline-{n}",
        "event_time": _time(n),
        "source": "12345",
        "service_request_id": f"SR-{n:06d}",
        "service_code": "water_leak",
        "status": "open",
        "description": "Water bubbling up through the pavement near the bus stop.",
        "lat": 31.2304 + (n % 10) * 0.001,
        "long": 121.4737 - (n % 10) * 0.001,
        "address": "Nanjing Road East 100",
        "asset_id": f"wm-{n % 11:03d}",
    }
    event.update(overrides)
    return event


def inspection_factory(**overrides: Any) -> dict[str, Any]:
    n = next(_counter)
    event = {
        "kind": "inspection",
        "event_id": f"inspection-{n}",
        "event_time": _time(n),
        "source": "field-app",
        "inspection_id": f"IN-{n:06d}",
        "asset_id": f"br-{n % 5:03d}",
        "inspector_id": f"insp-{n % 3}",
        "hazard": "crack",
        "severity": 1 + n % 5,
        "status": "open",
    }
    event.update(overrides)
    return event


def to_bytes(event: dict[str, Any]) -> bytes:
    """Encode a wire event as a producer would."""
    return orjson.dumps(event)


def without(event: dict[str, Any], field: str) -> dict[str, Any]:
    """Return a copy of ``event`` lacking ``field``."""
    return {k: v for k, v in event.items() if k != field}
