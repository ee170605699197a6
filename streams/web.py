"""HTTP views on the worker's web port: health and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.metrics import Metrics


def health_report(app: Any) -> tuple[bool, dict[str, Any]]:
    """Return (ready, body) for ``GET /health``.

    Ready means the consumer has partitions assigned and is not in the middle
    of a rebalance or table recovery.
    """
    assigned = (
        sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        if app.consumer is not None
        else []
    )
    rebalancing = bool(app.rebalancing)
    recovering = bool(app.tables.recovery.in_recovery) if app.tables is not None else False
    ready = bool(assigned) and not rebalancing and not recovering
    return ready, {
        "status": "ready" if ready else "starting",
        "assigned_partitions": len(assigned),
        "rebalancing": rebalancing,
        "recovering": recovering,
    }


def register_views(app: Any, metrics: Metrics) -> None:
    """Attach ``/health`` and ``/metrics`` to the worker's web server."""

    async def health(web: Any, request: Any) -> Any:
        ready, body = health_report(app)
        return web.json(body, status=200 if ready else 503)

    async def prometheus_metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type=, so set the header whole.
        return web.bytes(
            generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    # Faust's decorators are untyped; registering by call keeps the handlers typed.
    app.page("/health")(health)
    app.page("/metrics")(prometheus_metrics)
