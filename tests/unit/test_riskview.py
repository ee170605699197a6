from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import IncidentRef, RiskState, encode
from streams.core.riskview import QueryError, RiskPicture, RiskQuery

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def state(asset_id: str, score: float, level: str | None, asset_type: str) -> RiskState:
    incidents = (
        [IncidentRef(incident=f"i-{asset_id}", hazard="gas", level=level, last_identifier="x-1")]
        if level
        else []
    )
    return RiskState(
        asset_id=asset_id,
        asset_type=asset_type,
        risk_score=score,
        level=level,
        certainty="Observed",
        incidents=incidents,
        event_time=AT,
    )


@pytest.fixture
def picture() -> RiskPicture:
    view = RiskPicture()
    for s in (
        state("a", 90, "critical", "lifeline_corridor"),
        state("b", 45, "watch", "traffic_trunk"),
        state("c", 65, "warning", "lifeline_corridor"),
        state("d", 10, None, "crowded_place"),
    ):
        view.apply(s.asset_id.encode(), encode(s))
    return view


def test_top_orders_and_filters(picture):
    assert [s.asset_id for s in picture.top(RiskQuery())] == ["a", "c", "b", "d"]
    assert [s.asset_id for s in picture.top(RiskQuery(min_level="warning"))] == ["a", "c"]
    assert [s.asset_id for s in picture.top(RiskQuery(asset_type="traffic_trunk"))] == ["b"]
    assert [s.asset_id for s in picture.top(RiskQuery(limit=1))] == ["a"]


def test_tombstone_removes_and_counts_follow(picture):
    assets, incidents = picture.level_counts()
    assert (assets["critical"], assets["none"], incidents["warning"]) == (1, 1, 1)
    picture.apply(b"a", None)
    assert picture.get("a") is None
    assert [row["asset_id"] for row in picture.active_incidents()] == ["c", "b"]


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"min_level": "high"},
     {"asset_type": "river"}, {"colour": "red"}],
)  # fmt: skip
def test_bad_queries_are_refused(params):
    with pytest.raises(QueryError):
        RiskQuery.parse(params)


def test_good_query_parses():
    query = RiskQuery.parse({"asset_type": "crowded_place", "min_level": "watch", "limit": "5"})
    assert query == RiskQuery("crowded_place", "watch", 5)
