"""The repartition topic's wire format: forwarded events and progress markers.

Hotline cases are keyed by ``service_request_id``, so their asset's partition
is only known after matching. The hotline router forwards each case, byte for
byte, to the partition of its asset on ``<app id>-events-by-asset``, with
where it came from in Kafka headers, and after each batch (and on a timer) it
sends every partition one progress marker for the hotline partitions it holds:
how far in event time each has been forwarded, and whether it was caught up. The engine task
of a partition treats each hotline partition as one ordered source of its
event-time merge. Events that arrive on the wrong partition of a direct input
(a producer that keys or partitions differently) are forwarded the same way
as *rerouted*; they are applied on arrival, without the ordering guarantee.

Pure: headers are ``(name, bytes)`` pairs, as Kafka clients carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import orjson

KIND: Final = "gw-kind"
ORIGIN: Final = "gw-origin"
ASSET: Final = "gw-asset"
KEY: Final = "gw-key"

ForwardKind = Literal["case", "reroute"]
Headers = Sequence[tuple[str, bytes]]


class RepartitionFormatError(ValueError):
    """A message on the repartition topic that gridwatch did not write."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a forwarded message came from.

    Attributes:
        topic: The input topic.
        partition: Its partition.
        offset: The message's offset there.
        timestamp_ms: Its Kafka timestamp (None when it had none).
        key: Its key.
    """

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Forwarded:
    """An input message forwarded to its asset's partition, value unchanged."""

    kind: ForwardKind
    asset_id: str
    origin: Origin
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Progress:
    """A hotline partition's progress, sent to every partition.

    Attributes:
        partition: The hotline partition.
        event_time: Every event of it before this event time has been forwarded
            (None: nothing seen yet).
        caught_up_at: Wall-clock time (epoch seconds) at which it had nothing
            left to forward, or None while it lags.
    """

    partition: int
    event_time: float | None
    caught_up_at: float | None


def forward_headers(kind: ForwardKind, asset_id: str, origin: Origin) -> list[tuple[str, bytes]]:
    """Headers of a forwarded message."""
    stamp = "" if origin.timestamp_ms is None else str(origin.timestamp_ms)
    headers = [
        (KIND, kind.encode()),
        (ASSET, asset_id.encode()),
        (ORIGIN, f"{origin.topic}|{origin.partition}|{origin.offset}|{stamp}".encode()),
    ]
    if origin.key is not None:
        headers.append((KEY, origin.key))
    return headers


def progress_message(progress: Sequence[Progress]) -> tuple[list[tuple[str, bytes]], bytes]:
    """Headers and value of one progress marker for several hotline partitions.

    One marker per target partition carries every hotline partition the router
    announces at that moment: a marker per hotline partition and target was
    ``partitions²`` records per heartbeat (256 with 16 partitions).
    """
    value = orjson.dumps(
        {"m": [[one.partition, one.event_time, one.caught_up_at] for one in progress]}
    )
    return [(KIND, b"marks")], value


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"not a time: {value!r}")
    return float(value)


def _progress(partition: object, event_time: object, caught_up: object) -> Progress:
    if isinstance(partition, bool) or not isinstance(partition, int):
        raise TypeError(f"not a partition: {partition!r}")
    return Progress(partition, _seconds(event_time), _seconds(caught_up))


def read(headers: Headers | None, value: bytes | None) -> Forwarded | tuple[Progress, ...]:
    """Decode a message of the repartition topic: a forwarded event, or progress.

    A marker of an earlier version (``mark``: one hotline partition) still reads,
    as progress of that partition alone, so that a rolling upgrade stalls nothing.

    Raises:
        RepartitionFormatError: The message was not written by gridwatch.
    """
    named = dict(headers or ())
    kind = named.get(KIND)
    try:
        if kind == b"marks":
            marks = orjson.loads(value or b"")["m"]
            if not isinstance(marks, list):
                raise TypeError(f"marks {marks!r}")
            return tuple(_progress(*mark) for mark in marks)
        if kind == b"mark":
            data = orjson.loads(value or b"")
            return (_progress(data["q"], data["t"], data["at"]),)
        if kind in (b"case", b"reroute"):
            topic, partition, offset, stamp = named[ORIGIN].decode().rsplit("|", 3)
            origin = Origin(
                topic, int(partition), int(offset), int(stamp) if stamp else None, named.get(KEY)
            )
            forward_kind: ForwardKind = "case" if kind == b"case" else "reroute"
            return Forwarded(forward_kind, named[ASSET].decode(), origin, value)
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise RepartitionFormatError(f"malformed repartition message: {exc!r}") from None
    raise RepartitionFormatError(f"unknown repartition message kind {kind!r}")
