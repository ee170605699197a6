"""HTTP views on the worker's web port: health, metrics and the risk picture.

Every request passes :func:`guard_middleware` first (size, rate and token:
see :mod:`streams.core.http_guard`).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas import RiskState
from streams.core.http_guard import HttpGuard, RequestFacts
from streams.core.riskview import QueryError, RiskPicture, RiskQuery
from streams.runtime.health import ProgressWatch
from streams.runtime.metrics import LEVELS, Metrics


def health_report(app: Any, watch: ProgressWatch | None = None) -> tuple[bool, dict[str, Any]]:
    """Return (ready, body) for ``GET /health``.

    Ready means the consumer has partitions assigned, is not in the middle of a
    rebalance or table recovery, and every assigned partition with lag is
    making progress (see :mod:`streams.runtime.health`).
    """
    assigned = (
        sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        if app.consumer is not None
        else []
    )
    rebalancing = bool(app.rebalancing)
    recovering = bool(app.tables.recovery.in_recovery) if app.tables is not None else False
    stalls = list(watch.stalls) if watch is not None else []
    silent = watch.broker_silent_s if watch is not None else None
    ready = bool(assigned) and not rebalancing and not recovering and not stalls and not silent
    if stalls:
        status = "stalled"
    elif silent:
        status = "broker unreachable"
    elif ready:
        status = "ready"
    else:
        status = "starting"
    body: dict[str, Any] = {
        "status": status,
        "assigned_partitions": len(assigned),
        "rebalancing": rebalancing,
        "recovering": recovering,
    }
    if stalls:
        body["reason"] = "; ".join(stall.describe() for stall in stalls)
    elif silent:
        body["reason"] = f"no fetch answered by the broker for {silent:.0f}s"
    return ready, body


def request_facts(request: web.Request) -> RequestFacts:
    """What :class:`HttpGuard` needs to know of an aiohttp request.

    The client is the TCP peer: behind a reverse proxy that is the proxy, and
    ``X-Forwarded-For`` is not trusted (any client can write it).
    """
    chunked = "chunked" in request.headers.get(hdrs.TRANSFER_ENCODING, "").lower()
    return RequestFacts(
        path=request.path,
        client=request.remote,
        authorization=request.headers.get(hdrs.AUTHORIZATION),
        content_length=request.content_length,
        chunked=chunked,
    )


def guard_middleware(guard: HttpGuard) -> Middleware:
    """Middleware that answers the guard's refusals instead of the view."""

    @web.middleware
    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = guard.check(request_facts(request))
        if refusal is None:
            return await handler(request)
        response = web.json_response(
            {"error": refusal.error, "status": refusal.status},
            status=refusal.status,
            headers=dict(refusal.headers),
        )
        if refusal.close:
            response.force_close()  # the refused body is never read
        return response

    return guarded


def web_application_options(guard: HttpGuard) -> dict[str, Any]:
    """Faust's ``web_application_options``: the guard, and aiohttp's own body limit."""
    # client_max_size bounds any body a view would read; 0 would disable it.
    return {
        "middlewares": [guard_middleware(guard)],
        "client_max_size": max(1, guard.max_body_bytes),
    }


def _state_json(state: RiskState) -> dict[str, Any]:
    return dict(orjson.loads(orjson.dumps(state.model_dump(mode="python", exclude_none=True))))


def register_views(
    app: Any, metrics: Metrics, picture: RiskPicture, watch: ProgressWatch | None = None
) -> None:
    """Attach the HTTP API to the worker's web server.

    Args:
        app: The Faust app.
        metrics: Where the gauges of the risk picture go.
        picture: The risk picture this worker holds (fed from the risk topic).
        watch: The stall watch behind ``/health``.
    """

    def error(web: Any, status: int, message: str, **extra: Any) -> Any:
        return web.json({"error": message, "status": status, **extra}, status=status)

    async def health(web: Any, request: Any) -> Any:
        ready, body = health_report(app, watch)
        return web.json(body, status=200 if ready else 503)

    async def live(web: Any, request: Any) -> Any:
        # Liveness: only a stall is something a restart cures (see streams.runtime.health).
        stalls = list(watch.stalls) if watch is not None else []
        if stalls:
            reason = "; ".join(stall.describe() for stall in stalls)
            return web.json({"status": "stalled", "reason": reason}, status=503)
        return web.json({"status": "alive"})

    async def prometheus_metrics(web: Any, request: Any) -> Any:
        assets, incidents = picture.level_counts()
        for level in LEVELS:
            metrics.active_incidents.labels(level).set(incidents.get(level, 0))
            metrics.assets_by_level.labels(level).set(assets.get(level, 0))
        metrics.assets_by_level.labels("none").set(assets.get("none", 0))
        # aiohttp refuses a charset inside content_type=, so set the header whole.
        return web.bytes(
            generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def risk_top(web: Any, request: Any) -> Any:
        try:
            query = RiskQuery.parse(dict(request.query))
        except QueryError as exc:
            return error(web, 400, str(exc))
        states = picture.top(query)
        return web.json(
            {
                "count": len(states),
                "filters": {
                    "asset_type": query.asset_type,
                    "min_level": query.min_level,
                    "limit": query.limit,
                },
                "assets": [_state_json(s) for s in states],
            }
        )

    async def risk_one(web: Any, request: Any, asset_id: str) -> Any:
        state = picture.get(asset_id)
        if state is None:
            return error(
                web, 404, "no risk state for this asset (unknown, or nothing seen yet)",
                asset_id=asset_id,
            )  # fmt: skip
        return web.json(_state_json(state))

    async def alerts_active(web: Any, request: Any) -> Any:
        rows = picture.active_incidents()
        return web.json({"count": len(rows), "incidents": rows})

    # Faust's decorators are untyped; registering by call keeps the handlers typed.
    app.page("/health")(health)
    app.page("/health/live")(live)
    app.page("/metrics")(prometheus_metrics)
    app.page("/risk")(risk_top)
    app.page("/risk/{asset_id}")(risk_one)
    app.page("/alerts/active")(alerts_active)
