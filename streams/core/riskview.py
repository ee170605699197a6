"""The live risk picture every worker serves: latest risk state per asset.

Fed from the compacted risk topic (each worker reads all of it through a
GlobalTable), so ``GET /risk/{asset_id}`` answers the same on every worker,
whichever one owns the asset's partition. Pure: no faust, kafka or prometheus.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

from schemas import DecodeError, RiskState, decode_model

LEVEL_ORDER: Final = {"none": 0, "watch": 1, "warning": 2, "critical": 3}
ASSET_TYPES: Final = frozenset({"lifeline_corridor", "traffic_trunk", "crowded_place"})
MAX_LIMIT: Final = 1000


class QueryError(ValueError):
    """A bad query parameter; the message says which and why."""


@dataclass(frozen=True, slots=True)
class RiskQuery:
    """Filters of ``GET /risk``."""

    asset_type: str | None = None
    min_level: str = "none"
    limit: int = 50

    @classmethod
    def parse(cls, params: dict[str, str]) -> RiskQuery:
        """Validate query parameters.

        Raises:
            QueryError: For an unknown asset type or level, or a bad limit.
        """
        unknown = set(params) - {"asset_type", "min_level", "limit"}
        if unknown:
            raise QueryError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        asset_type = params.get("asset_type")
        if asset_type is not None and asset_type not in ASSET_TYPES:
            raise QueryError(f"asset_type must be one of {', '.join(sorted(ASSET_TYPES))}")
        min_level = params.get("min_level", "none")
        if min_level not in LEVEL_ORDER:
            raise QueryError("min_level must be one of none, watch, warning, critical")
        raw_limit = params.get("limit", "50")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise QueryError("limit must be an integer") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}")
        return cls(asset_type, min_level, limit)


class RiskPicture:
    """Decoded latest risk state per asset, with level counts kept up to date."""

    def __init__(self) -> None:
        self._states: dict[str, RiskState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Take one record of the risk topic (a tombstone removes the asset)."""
        if key is None:
            return
        asset_id = key.decode(errors="replace")
        if value is None:
            self._states.pop(asset_id, None)
            return
        try:
            self._states[asset_id] = decode_model(value, RiskState)
        except DecodeError:
            return  # not ours to judge here; the producer is gridwatch itself

    def rebuild(self, items: list[tuple[bytes, bytes | None]]) -> None:
        """Replace everything from a table's items."""
        self._states.clear()
        for key, value in items:
            self.apply(key, value)

    def get(self, asset_id: str) -> RiskState | None:
        """The asset's latest risk state."""
        return self._states.get(asset_id)

    def top(self, query: RiskQuery) -> list[RiskState]:
        """Assets by descending score, filtered (ties by asset id)."""
        floor = LEVEL_ORDER[query.min_level]
        chosen = [
            state
            for state in self._states.values()
            if (query.asset_type is None or state.asset_type == query.asset_type)
            and LEVEL_ORDER[state.level or "none"] >= floor
        ]
        chosen.sort(key=lambda s: (-s.risk_score, s.asset_id))
        return chosen[: query.limit]

    def active_incidents(self) -> list[dict[str, Any]]:
        """Every open incident, most severe first."""
        rows = [
            {
                "asset_id": state.asset_id,
                "asset_type": state.asset_type,
                "incident": ref.incident,
                "hazard": ref.hazard,
                "level": ref.level,
                "last_identifier": ref.last_identifier,
                "acknowledged": ref.acknowledged,
                "risk_score": state.risk_score,
                "event_time": state.event_time.isoformat(),
            }
            for state in self._states.values()
            for ref in state.incidents
        ]
        rows.sort(
            key=lambda r: (
                -LEVEL_ORDER[str(r["level"])],
                -float(r["risk_score"] or 0.0),
                str(r["incident"]),
            )
        )
        return rows

    def level_counts(self) -> tuple[Counter[str], Counter[str]]:
        """(assets by level, open incidents by level)."""
        assets: Counter[str] = Counter()
        incidents: Counter[str] = Counter()
        for state in self._states.values():
            assets[state.level or "none"] += 1
            for ref in state.incidents:
                incidents[ref.level] += 1
        return assets, incidents
