"""Factors: one signal's contribution to a hazard family's score, and level ranks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from schemas import RiskLevel
from streams.engine.config import LEVELS

Source = Literal["sensor", "hotline", "inspection", "data_health"]

_LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS, start=1)}


def fmt_value(value: float) -> str:
    """A reading as factor details show it (4 significant digits)."""
    return f"{value:.4g}"


def level_rank(level: RiskLevel | None) -> int:
    """0 for None, then 1 (watch), 2 (warning), 3 (critical)."""
    return 0 if level is None else _LEVEL_RANK[level]


def max_level(a: RiskLevel | None, b: RiskLevel | None) -> RiskLevel | None:
    """The higher of two levels."""
    return a if level_rank(a) >= level_rank(b) else b


@dataclass(frozen=True, slots=True)
class Factor:
    """One signal's contribution to a family's score.

    Attributes:
        name: e.g. ``threshold:gas_ppm``, ``hotline_pressure``, ``inspection:crack``.
        source: Which independent source it comes from.
        family: The hazard family it belongs to.
        contribution: Standalone score, 0-100 (0 for data-health notes).
        detail: One line an operator can read.
        observed: True when a physical threshold is crossed.
        evidence: (event_id, summary) pairs behind it, newest last.
    """

    name: str
    source: Source
    family: str
    contribution: float
    detail: str
    observed: bool = False
    evidence: tuple[tuple[str, str], ...] = ()


def factor_to_data(factor: Factor) -> list[Any]:
    """A factor as plain data."""
    return [
        factor.name,
        factor.source,
        factor.family,
        factor.contribution,
        factor.detail,
        factor.observed,
        [list(e) for e in factor.evidence],
    ]


def factor_from_data(data: list[Any]) -> Factor:
    """Rebuild a factor from :func:`factor_to_data`."""
    name, source, family, contribution, detail, observed, evidence = data
    return Factor(
        name, source, family, contribution, detail, observed, tuple((a, b) for a, b in evidence)
    )
