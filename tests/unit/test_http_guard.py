"""The HTTP API's guards: token bucket, bearer token, size limit, and their aiohttp wiring.

The pure parts run on a clock the test moves; the middleware runs in an
in-process aiohttp server (no broker, no worker). Faust's own views are
checked on the app ``create_app`` builds, without starting it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from streams.core.http_guard import (
    OPEN_PATHS,
    ClientRateLimiter,
    HttpGuard,
    RequestFacts,
    TokenBucket,
    bearer_token_matches,
)
from streams.core.settings import Settings
from streams.runtime.app import create_app
from streams.runtime.web import web_application_options

TOKEN = "s3cret-token"
AUTH = f"Bearer {TOKEN}"


class FakeMonotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard_factory(
    *, token: str | None = TOKEN, rate: float = 1.0, burst: int = 2, max_body: int = 64
) -> tuple[HttpGuard, FakeMonotonic]:
    clock = FakeMonotonic()
    limiter = ClientRateLimiter(rate, burst, monotonic=clock)
    return HttpGuard(token=token, limiter=limiter, max_body_bytes=max_body), clock


# --- token bucket -----------------------------------------------------------------------


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)  # one token every 0.5 s
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.5) == pytest.approx(0.5)


def test_bucket_never_holds_more_than_the_burst() -> None:
    bucket = TokenBucket(rate_per_s=10.0, burst=2, now=0.0)
    assert bucket.tokens(3600.0) == 2.0
    assert [bucket.take(3600.0) for _ in range(3)][-1] > 0


def test_bucket_ignores_a_clock_that_runs_back() -> None:
    bucket = TokenBucket(rate_per_s=1.0, burst=1, now=10.0)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1.0)
    assert bucket.take(10.5) == pytest.approx(0.5)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_bucket_and_limiter_refuse_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBucket(rate, burst, 0.0)
    with pytest.raises(ValueError, match="rate_per_s"):
        ClientRateLimiter(rate, burst)


def test_limiter_keeps_one_bucket_per_client() -> None:
    clock = FakeMonotonic()
    limiter = ClientRateLimiter(1.0, 1, monotonic=clock)
    assert limiter.retry_after("10.0.0.1") == 0.0
    assert limiter.retry_after("10.0.0.1") == pytest.approx(1.0)
    assert limiter.retry_after("10.0.0.2") == 0.0  # another address has its own bucket
    clock.now += 1.0
    assert limiter.retry_after("10.0.0.1") == 0.0


def test_limiter_memory_is_bounded_and_forgets_the_least_recent() -> None:
    clock = FakeMonotonic()
    limiter = ClientRateLimiter(1.0, 1, monotonic=clock, max_clients=2)
    for client in ("a", "b", "a", "c"):
        limiter.retry_after(client)
    assert len(limiter) == 2
    assert limiter.retry_after("a") > 0  # "a" was seen recently: still limited
    assert limiter.retry_after("b") == 0.0  # "b" was forgotten: a fresh bucket


# --- bearer token -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (AUTH, True),
        (f"bearer {TOKEN}", True),
        (f"  Bearer   {TOKEN}  ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        ("Bearer ", False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer s3cret-tökén", False),
        ("Bearer \udcff", False),  # undecodable bytes, as aiohttp surrogate-escapes them
    ],
)
def test_bearer_token_matches(header: str | None, ok: bool) -> None:
    assert bearer_token_matches(header, TOKEN) is ok


# --- the guard's decisions --------------------------------------------------------------


def test_token_required_on_every_path_but_health() -> None:
    guard, _ = guard_factory(burst=100)
    for path in ("/risk", "/risk/x", "/alerts/active", "/metrics", "/router", "/"):
        refusal = guard.check(RequestFacts(path, "c"))
        assert refusal is not None, path
        assert refusal.status == 401
        assert refusal.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in refusal.error
        assert guard.check(RequestFacts(path, "c", authorization=AUTH)) is None, path
    for path in OPEN_PATHS:
        assert guard.check(RequestFacts(path, "c")) is None, path


def test_no_token_configured_means_open() -> None:
    for token in (None, ""):
        guard, _ = guard_factory(token=token)
        assert not guard.token_required
        assert guard.check(RequestFacts("/risk", "c")) is None


def test_rate_limit_answers_429_with_retry_after_and_spares_the_probes() -> None:
    guard, clock = guard_factory(rate=0.5, burst=2)
    facts = RequestFacts("/risk", "10.0.0.9", authorization=AUTH)
    assert guard.check(facts) is None
    assert guard.check(facts) is None
    refusal = guard.check(facts)
    assert refusal is not None
    assert refusal.status == 429
    assert refusal.headers == {"Retry-After": "2"}
    # The limit comes before the token: guessing tokens spends the same budget.
    refused = guard.check(RequestFacts("/risk", "10.0.0.9", authorization="Bearer guess"))
    assert refused is not None
    assert refused.status == 429
    for path in OPEN_PATHS:
        assert guard.check(RequestFacts(path, "10.0.0.9")) is None
    assert guard.check(RequestFacts("/risk", "10.0.0.8", authorization=AUTH)) is None
    clock.now += 2.0
    assert guard.check(facts) is None


def test_retry_after_is_a_whole_number_of_seconds_at_least_one() -> None:
    guard, _ = guard_factory(rate=100.0, burst=1)
    facts = RequestFacts("/risk", "c", authorization=AUTH)
    guard.check(facts)
    refusal = guard.check(facts)
    assert refusal is not None
    assert refusal.headers["Retry-After"] == "1"


def test_oversize_and_unsized_bodies_are_refused_everywhere() -> None:
    guard, _ = guard_factory(max_body=64)
    for path in ("/risk", "/health"):
        refusal = guard.check(RequestFacts(path, "c", authorization=AUTH, content_length=65))
        assert refusal is not None
        assert (refusal.status, refusal.close) == (413, True)
        refusal = guard.check(RequestFacts(path, "c", authorization=AUTH, chunked=True))
        assert refusal is not None
        assert (refusal.status, refusal.close) == (411, True)
    assert guard.check(RequestFacts("/risk", "c", authorization=AUTH, content_length=64)) is None


def test_guard_from_settings() -> None:
    settings = Settings(api_token=TOKEN, api_rate_per_s=3.0, api_burst=7, api_max_body_bytes=10)
    guard = HttpGuard.from_settings(settings)
    assert guard.token_required
    assert (guard.limiter.rate_per_s, guard.limiter.burst, guard.max_body_bytes) == (3.0, 7, 10)
    assert not HttpGuard.from_settings(Settings()).token_required


def test_the_token_is_never_shown_by_the_settings() -> None:
    settings = Settings(api_token=TOKEN)
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.model_dump())
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == TOKEN


# --- the aiohttp wiring -----------------------------------------------------------------


def run_against(
    guard: HttpGuard, scenario: Callable[[TestClient[Any, Any]], Awaitable[None]]
) -> None:
    """Serve a few views behind the guard's middleware in-process and run ``scenario``."""

    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path})

    async def main() -> None:
        app = web.Application(**web_application_options(guard))
        app.router.add_get("/health", ok)
        app.router.add_get("/risk", ok)
        app.router.add_post("/echo", ok)
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


def test_middleware_answers_refusals_and_passes_the_rest() -> None:
    guard, _ = guard_factory(rate=0.001, burst=3, max_body=16)

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.get("/risk")
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="gridwatch"'
        assert (await response.json())["status"] == 401
        response = await client.get("/risk", headers={"Authorization": AUTH})
        assert response.status == 200
        assert (await response.json()) == {"path": "/risk"}
        response = await client.get("/health")
        assert response.status == 200
        response = await client.post("/echo", data=b"x" * 17, headers={"Authorization": AUTH})
        assert response.status == 413
        response = await client.get("/nowhere", headers={"Authorization": AUTH})
        assert response.status == 404
        response = await client.get("/risk", headers={"Authorization": AUTH})
        assert response.status == 429
        assert int(response.headers["Retry-After"]) >= 1
        response = await client.get("/health")
        assert response.status == 200

    run_against(guard, scenario)


def test_chunked_bodies_are_refused() -> None:
    guard, _ = guard_factory(token=None)

    async def body() -> Any:
        yield b"x"

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/echo", data=body())
        assert response.status == 411

    run_against(guard, scenario)


def test_the_worker_serves_only_gridwatch_views(tmp_path: Path) -> None:
    """Faust's /router, /table, /graph, statistics and index are not registered."""
    gridwatch = create_app(Settings(home=tmp_path, api_token=TOKEN))
    server = gridwatch.app.web
    assert server.web_app.middlewares, "the guard middleware is not installed"
    server.init_server()
    paths = {route.resource.canonical for route in server.web_app.router.routes()}
    assert paths == {
        "/health",
        "/health/live",
        "/metrics",
        "/risk",
        "/risk/{asset_id}",
        "/alerts/active",
        "/faust/metrics",
    }


def test_an_empty_token_setting_means_no_token() -> None:
    # compose passes GRIDWATCH_API_TOKEN through; set but empty must not lock the API
    # behind the empty string.
    assert not HttpGuard.from_settings(Settings(api_token="")).token_required
