"""Ingest policy: decode, validate, de-duplicate and route one input message.

Pure logic with no Kafka in sight: the Faust agents call :meth:`Ingest.handle`
for every message and carry out the decision it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from schemas import (
    KNOWN_SERVICE_CODES,
    AnyEvent,
    DecodeError,
    HotlineCase,
    InputLimits,
    decode_event,
)
from streams.core.dedup import DuplicateFilter


class Route(StrEnum):
    """Where a valid event goes next."""

    BY_ASSET = "by_asset"
    """The per-asset stream the risk engine consumes, keyed by asset_id."""
    UNMATCHED_HOTLINE = "unmatched_hotline"
    """Holding path for hotline cases without asset_id, keyed by service_request_id."""


@dataclass(frozen=True, slots=True)
class Forward:
    """A valid, new event to forward.

    Attributes:
        event: The validated event.
        key: Message key for the next topic.
        route: Which topic to forward to.
        unknown_service_code: True for a hotline case whose code gridwatch does not know.
    """

    event: AnyEvent
    key: str
    route: Route
    unknown_service_code: bool = False


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A valid event whose ``event_id`` was already forwarded within the horizon."""

    event: AnyEvent


@dataclass(frozen=True, slots=True)
class Reject:
    """An invalid message, bound for the dead-letter topic."""

    error: DecodeError


IngestDecision = Forward | Duplicate | Reject


def route_event(event: AnyEvent) -> tuple[Route, str]:
    """Return where a valid event is forwarded and under which key."""
    if isinstance(event, HotlineCase):
        if event.asset_id is None:
            return Route.UNMATCHED_HOTLINE, event.service_request_id
        return Route.BY_ASSET, event.asset_id
    return Route.BY_ASSET, event.asset_id


class Ingest:
    """Decides the fate of each input message.

    Args:
        limits: Size and clock-skew limits for decoding.
        dedup_horizon: Event-time span within which a repeated id is dropped.
        dedup_max_ids: Bound on remembered ids.
    """

    def __init__(self, limits: InputLimits, dedup_horizon: timedelta, dedup_max_ids: int) -> None:
        self._limits = limits
        self._duplicates = DuplicateFilter(dedup_horizon, dedup_max_ids)

    @property
    def remembered_ids(self) -> int:
        """How many event ids the duplicate filter holds now."""
        return len(self._duplicates)

    def handle(self, raw: bytes | None, now: datetime) -> IngestDecision:
        """Decide what happens to one message value.

        Args:
            raw: The message value as received.
            now: Worker wall-clock time, for the future-event-time limit.

        Returns:
            Forward, Duplicate or Reject.
        """
        try:
            event = decode_event(raw, limits=self._limits, now=now)
        except DecodeError as error:
            return Reject(error)
        if self._duplicates.is_duplicate(event.event_id, event.event_time):
            return Duplicate(event)
        route, key = route_event(event)
        unknown_code = (
            isinstance(event, HotlineCase) and event.service_code not in KNOWN_SERVICE_CODES
        )
        return Forward(event, key, route, unknown_code)
