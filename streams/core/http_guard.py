"""What the worker's HTTP API refuses, decided without a web server.

The worker's web port answers three questions before any view runs, in this
order:

1. **Size**: the API is GET only, so a request body larger than
   ``api_max_body_bytes`` is refused with 413, and a body of unknown length
   (chunked) with 411, before anything reads it.
2. **Rate**: each client address has a token bucket (``api_rate_per_s``
   sustained, ``api_burst`` at once); an empty bucket is 429 with
   ``Retry-After``. Checked before the token, so guessing tokens costs rate.
3. **Token**: when ``api_token`` is set, ``Authorization: Bearer <token>``
   (compared in constant time) or 401 with ``WWW-Authenticate: Bearer``.

``/health`` and ``/health/live`` skip the rate limit and the token: the
orchestrator's probes must never see a 401 or 429 and restart a healthy
worker, and both answers are cheap and say nothing about the city.
:mod:`streams.runtime.web` wires :class:`HttpGuard` into the web server.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.core.settings import Settings

OPEN_PATHS: frozenset[str] = frozenset({"/health", "/health/live"})
"""Paths that need neither the token nor a share of the rate limit (the probes)."""

REALM = "gridwatch"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An HTTP answer that replaces the view.

    Attributes:
        status: HTTP status code.
        error: Human-readable reason (the JSON body's ``error``).
        headers: Extra response headers (``WWW-Authenticate``, ``Retry-After``).
        close: Whether to close the connection (an unread body may follow).
    """

    status: int
    error: str
    headers: Mapping[str, str] = field(default_factory=dict)
    close: bool = False


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The parts of a request the guard looks at.

    Attributes:
        path: The URL path, without the query.
        client: The peer's address (None when unknown, e.g. a Unix socket).
        authorization: The ``Authorization`` header, if any.
        content_length: The declared body size, if any.
        chunked: Whether a body of undeclared length follows.
    """

    path: str
    client: str | None = None
    authorization: str | None = None
    content_length: int | None = None
    chunked: bool = False


def _check_rate(rate_per_s: float, burst: int) -> None:
    if rate_per_s <= 0 or burst < 1:
        raise ValueError(f"need rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")


class TokenBucket:
    """A token bucket: ``burst`` tokens at most, refilled at ``rate_per_s``.

    Time is given to every call (seconds on a monotonic clock), so the bucket
    is a plain value a test drives.
    """

    __slots__ = ("_tokens", "_updated", "burst", "rate_per_s")

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        """Start full at time ``now``.

        Raises:
            ValueError: On a rate that is not positive or a burst below 1.
        """
        _check_rate(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)  # a clock never runs back here
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate_per_s)
        self._updated = max(self._updated, now)

    def tokens(self, now: float) -> float:
        """Tokens available at ``now``."""
        self._refill(now)
        return self._tokens

    def take(self, now: float) -> float:
        """Take one token at ``now``.

        Returns:
            0.0 when a token was taken, else the seconds until one is available
            (nothing is taken then).
        """
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s


class ClientRateLimiter:
    """One :class:`TokenBucket` per client address, in bounded memory.

    At most ``max_clients`` buckets are kept; the least recently seen client
    is forgotten first (it starts again with a full bucket, never with more).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        """Limit each client to ``rate_per_s`` sustained and ``burst`` at once.

        Args:
            rate_per_s: Sustained requests per second per client.
            burst: Requests a client may send at once.
            monotonic: The clock, in seconds (``time.monotonic`` by default).
            max_clients: How many client addresses are remembered.

        Raises:
            ValueError: On a rate that is not positive or a burst below 1.
        """
        _check_rate(rate_per_s, burst)
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._monotonic = monotonic
        self._max_clients = max(1, max_clients)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, client: str) -> float:
        """Count one request of ``client``.

        Returns:
            0.0 when it is allowed, else the seconds until it would be.
        """
        now = self._monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self.rate_per_s, self.burst, now)
            self._buckets[client] = bucket
            while len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(now)


def bearer_token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <token>``.

    The scheme is case-insensitive (RFC 9110); the token is compared in
    constant time, as bytes, so non-ASCII input is simply a mismatch.
    """
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    offered = credentials.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(offered, token.encode("utf-8"))


class HttpGuard:
    """Size limit, per-client rate limit and bearer token for the HTTP API.

    See the module docstring for the order and the open paths.
    """

    def __init__(
        self, *, token: str | None, limiter: ClientRateLimiter, max_body_bytes: int
    ) -> None:
        """Guard with ``token`` (None or empty: no token needed).

        Args:
            token: The bearer token every non-open path needs.
            limiter: The per-client rate limit.
            max_body_bytes: The largest request body accepted.
        """
        self._token = token or None
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    @classmethod
    def from_settings(
        cls, settings: Settings, *, monotonic: Callable[[], float] = time.monotonic
    ) -> HttpGuard:
        """The guard the settings describe (``api_token``, ``api_rate_per_s``, …)."""
        token = settings.api_token.get_secret_value() if settings.api_token else None
        limiter = ClientRateLimiter(
            settings.api_rate_per_s, settings.api_burst, monotonic=monotonic
        )
        return cls(token=token, limiter=limiter, max_body_bytes=settings.api_max_body_bytes)

    @property
    def token_required(self) -> bool:
        """Whether non-open paths need the bearer token."""
        return self._token is not None

    def check(self, request: RequestFacts) -> Refusal | None:
        """Return how to refuse ``request``, or None to let the view answer it."""
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return Refusal(
                413,
                f"request body of {request.content_length} bytes; the limit is "
                f"{self.max_body_bytes}",
                close=True,
            )
        if request.chunked:
            return Refusal(411, "a request body needs a Content-Length", close=True)
        if request.path in OPEN_PATHS:
            return None
        wait = self.limiter.retry_after(request.client or "unknown")
        if wait > 0:
            return Refusal(
                429,
                "too many requests from this address",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if self._token is not None and not bearer_token_matches(request.authorization, self._token):
            return Refusal(
                401,
                "missing or wrong bearer token (Authorization: Bearer <token>)",
                {"WWW-Authenticate": f'Bearer realm="{REALM}"'},
            )
        return None
