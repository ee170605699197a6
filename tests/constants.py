"""Constants every test tier shares: the product's topic names, the repository, fixed times."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The checkout."""

SAMPLE_REGISTRY = ROOT / "data" / "registry" / "shanghai-sample.geojson"
"""The shipped sample registry (400 assets over Shanghai)."""

PRODUCT_TOPICS = frozenset(
    {
        "gridwatch.sensor",
        "gridwatch.hotline",
        "gridwatch.inspection",
        "gridwatch.assets",
        "gridwatch.alerts",
        "gridwatch.risk",
        "gridwatch.acks",
        "gridwatch.dlq",
    }
)
"""The public topics of ../shared/PRODUCT.md with the default prefix."""

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
"""The worker clock in unit tests: an hour after the factories' base time."""
