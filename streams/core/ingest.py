"""Ingest policy: decode and validate one input message, and say where it belongs.

Pure logic with no Kafka in sight: the Faust agents and ``gridwatch process``
call :class:`Intake` for every message and carry out the decision. Duplicate
``event_id``s are dropped later, per asset, by the engine (its memory is part
of the asset's state, so it survives restarts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from schemas import (
    KNOWN_SERVICE_CODES,
    Acknowledgement,
    AnyEvent,
    DeadLetterReason,
    DecodeError,
    InputLimits,
    decode_ack,
    decode_event,
    decode_input,
)
from streams.core.merge import OrderKey, order_key

log = logging.getLogger(__name__)

Item = AnyEvent | Acknowledgement
"""What reaches the engine: a validated event or an acknowledgement."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A valid message.

    Attributes:
        item: The validated event or acknowledgement.
        unknown_service_code: True for a hotline case whose code gridwatch does not know.
    """

    item: Item

    @property
    def unknown_service_code(self) -> bool:
        """Whether the item is a hotline case with a service code gridwatch does not know."""
        item = self.item
        # The kind, not isinstance: this runs for every message (a pydantic model's
        # isinstance goes through ABCMeta; 5% of a worker's loop in a profile).
        return item.kind == "hotline" and item.service_code not in KNOWN_SERVICE_CODES


@dataclass(frozen=True, slots=True)
class Rejected:
    """An invalid message, bound for the dead-letter topic."""

    error: DecodeError


Decision = Accepted | Rejected


def item_id(item: Item) -> str:
    """The id an item is known by: its ``event_id``, or ``ack:<ack_id>``."""
    return f"ack:{item.ack_id}" if isinstance(item, Acknowledgement) else item.event_id


def item_order(item: Item) -> OrderKey:
    """The item's place in the canonical event-time order."""
    return order_key(item.event_time.timestamp(), item.kind, item_id(item))


def routing_key(item: Item) -> str | None:
    """The asset the item belongs to (None: a hotline case still to be matched)."""
    return item.asset_id


class Intake:
    """Decides whether each input message is valid.

    Every exception, not only a validation failure, becomes a rejection of that
    one message (``internal_error``): a bug on one message never stops a run.

    Args:
        limits: Size and clock-skew limits for decoding.
    """

    def __init__(self, limits: InputLimits) -> None:
        self.limits = limits

    def event(self, raw: bytes | None, now: datetime) -> Decision:
        """A message of an event topic (sensor, hotline, inspection)."""
        return self._decide(raw, now, "event")

    def ack(self, raw: bytes | None, now: datetime) -> Decision:
        """A message of the acknowledgements topic."""
        return self._decide(raw, now, "ack")

    def line(self, raw: bytes | None, now: datetime) -> Decision:
        """A line of an event log: any kind, acknowledgements included."""
        return self._decide(raw, now, "line")

    def _decide(self, raw: bytes | None, now: datetime, what: str) -> Decision:
        try:
            if what == "event":
                item: Item = decode_event(raw, limits=self.limits, now=now)
            elif what == "ack":
                item = decode_ack(raw, limits=self.limits, now=now)
            else:
                item = decode_input(raw, limits=self.limits, now=now)
        except DecodeError as error:
            return Rejected(error)
        # A bug on one message must not stop the run: it becomes that message's dead letter.
        except Exception as exc:  # noqa: BLE001 - policy: every failure is a dead letter
            log.warning("decoding failed on a message: %s: %s", type(exc).__name__, exc)
            return Rejected(
                DecodeError(DeadLetterReason.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            )
        return Accepted(item)
