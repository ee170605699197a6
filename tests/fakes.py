"""In-process fakes that drive the Faust agents' methods without a broker or Faust."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tests.constants import NOW


@dataclass
class FakeMessage:
    """A Kafka message as agents read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    timestamp: float | None


@dataclass
class FakeOutbox:
    """Records every send, in order."""

    sent: list[Sent] = field(default_factory=list)

    async def send(
        self, topic: str, key: bytes | None, value: bytes, timestamp: float | None = None
    ) -> None:
        self.sent.append(Sent(topic, key, value, timestamp))

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class FixedClock:
    moment: datetime = NOW

    def now(self) -> datetime:
        return self.moment


def messages(
    topic: str, values: list[tuple[bytes | None, bytes | None]], partition: int = 0, start: int = 0
) -> list[FakeMessage]:
    """Consecutive messages of one partition from (key, value) pairs."""
    return [
        FakeMessage(topic, partition, start + i, key, value)
        for i, (key, value) in enumerate(values)
    ]
