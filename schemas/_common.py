"""Field types and limits shared by every gridwatch contract.

The string limits here are part of the published JSON Schemas; limits that an
operator may tune at run time (message size, clock skew) live in
:class:`schemas.InputLimits` and are enforced by the codec.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 256
MAX_ADDRESS_CHARS = 512
MAX_DESCRIPTION_CHARS = 4000
MAX_NAME_CHARS = 64

SNAKE_CASE_PATTERN = r"^[a-z][a-z0-9_]*$"


def _require_rfc3339_string(value: Any) -> Any:
    # pydantic would also accept epoch numbers and datetime objects built in
    # Python; the wire contract is an RFC 3339 string, nothing else.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("event_time must be an RFC 3339 string with a UTC offset")
    if len(value) > 64:
        raise ValueError("event_time string is longer than 64 characters")
    return value


def _require_finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("number must be finite")
    return value


Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS, strip_whitespace=False)
]
"""An opaque id (event, asset, sensor, case …): 1 to 128 characters."""

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_CHARS)]
"""A short human-readable string such as a source system name."""

SnakeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_CHARS, pattern=SNAKE_CASE_PATTERN),
]
"""A snake_case vocabulary word: metric names, service codes, hazards."""

EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(_require_rfc3339_string),
    Field(description="RFC 3339 timestamp with an explicit UTC offset."),
]
"""Event time: an RFC 3339 string that carries its offset; naive times are rejected."""

FiniteFloat = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False),
    AfterValidator(_require_finite),
]
"""A JSON number (never a string) that is finite."""

Latitude = Annotated[float, Field(strict=True, ge=-90.0, le=90.0, allow_inf_nan=False)]
"""WGS84 latitude in degrees."""

Longitude = Annotated[float, Field(strict=True, ge=-180.0, le=180.0, allow_inf_nan=False)]
"""WGS84 longitude in degrees."""
