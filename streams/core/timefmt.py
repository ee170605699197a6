"""The one RFC 3339 parser, and Kafka's epoch-millisecond timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time with a UTC offset (``Z`` allowed).

    Raises:
        ValueError: ``text`` is not such a time (the message quotes it), or has no offset.
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no UTC offset (add Z or +08:00)")
    return moment


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of a timezone-aware datetime, exactly (sub-milliseconds dropped)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def timestamp_text(timestamp_ms: int) -> str:
    """An epoch-milliseconds Kafka timestamp as RFC 3339 UTC."""
    return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC).isoformat()
