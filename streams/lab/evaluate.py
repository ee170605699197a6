"""Score gridwatch alerts against the ground truth of a simulation.

Pure Python (no faust, kafka or prometheus). The alerts are the JSON Lines
that ``gridwatch process`` (or the ``gridwatch.alerts`` topic) produces; the
ground truth is the JSON Lines file a simulation writes, one object per
injected incident or decoy::

    {"incident_id": "...", "type": "gas_leak", "asset_id": "...",
     "start": "2026-11-27T08:00:00+00:00", "end": "...", "decoy": false}

Rules:

* Alert messages are grouped into *alert incidents* by their ``incidents`` id
  (a message without one forms an incident of its own, keyed by its
  ``identifier``). Redelivered messages (same ``identifier``) count once.
* An alert incident *matches* a true (non-decoy) incident when it is on the
  same asset and its first message time lies within
  ``[start - 60 s, end + grace]`` (both ends inclusive). Family is not part
  of the match. Each true incident is detected by its earliest matching alert
  incident; time to detect is ``max(0, first message time - start)``.
* ``recall`` = detected true incidents / true incidents (1.0 without true
  incidents). ``precision`` = alert incidents matching some true incident /
  all alert incidents; without alert incidents it is 1.0 when there are no
  true incidents either, else 0.0.
* Time-to-detect percentiles use the nearest-rank method: the p-th percentile
  of ``n`` sorted values is the value at rank ``ceil(p / 100 * n)`` (1-based),
  so it is always an observed value. ``None`` when nothing was detected.
* ``decoy_alerts`` counts alert incidents on a decoy's asset whose first
  message time lies within ``[decoy start - 60 s, decoy end + grace]`` and
  whose peak level is above watch; ``decoy_watch_alerts`` counts those that
  stayed at watch. Each alert incident counts at most once.
* ``by_type`` has one entry per true incident type in the truth. Its
  ``precision`` is, over the alert incidents whose family maps to that type
  (:data:`INCIDENT_TYPE_FAMILY`), those matching some true incident / all of
  them (1.0 when there are none).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator
from rich import box
from rich.console import Console
from rich.table import Table

from schemas import Alert, DecodeError, RiskLevel, decode_model
from streams.core.eventlog import read_log

ItemT = TypeVar("ItemT")

INCIDENT_TYPE_FAMILY: Final[dict[str, str]] = {
    "water_main_burst": "water",
    "gas_leak": "gas",
    "power_cable_overheat": "power",
    "bridge_strain": "structural",
    "traffic_incident": "traffic",
    "crowd_surge": "crowd",
}
"""The alert family a true incident of each type is expected to raise."""

DECOY_TYPES: Final[frozenset[str]] = frozenset(
    {"decoy_stuck_sensor", "decoy_lone_complaint", "decoy_rush_hour"}
)
"""Decoy types a simulation injects (signals that should not raise an alert)."""

EARLY_S: Final[float] = 60.0
"""An alert may start this many seconds before the truth's start and still match."""

DEFAULT_GRACE_S: Final[float] = 900.0
"""Default seconds after a truth's end during which a first alert still matches."""

FAMILY_PARAMETER: Final[str] = "gridwatch:family"
"""The CAP parameter that carries an alert's hazard family."""

UNKNOWN_FAMILY: Final[str] = "other"
"""Family given to an alert incident none of whose messages names one."""

_LEVEL_RANK: Final[dict[str, int]] = {"watch": 1, "warning": 2, "critical": 3}


class TruthIncident(BaseModel):
    """One injected incident or decoy of a simulation's ground truth.

    Attributes:
        incident_id: The simulation's identifier.
        type: Incident type (e.g. ``gas_leak``) or decoy type.
        asset_id: The asset it happens on.
        start: When it starts (timezone-aware).
        end: When it ends (timezone-aware, not before ``start``).
        decoy: True for decoys, which should raise no alert above watch.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    incident_id: str
    type: str
    asset_id: str
    start: AwareDatetime
    end: AwareDatetime
    decoy: bool = False

    @model_validator(mode="after")
    def _end_not_before_start(self) -> TruthIncident:
        if self.end < self.start:
            raise ValueError("end is before start")
        return self


@dataclass(frozen=True, slots=True)
class AlertIncident:
    """The messages of one alert incident, summarised.

    Attributes:
        incident: The incident id (``incidents`` of its messages).
        asset_id: The asset the incident is on.
        family: Hazard family (``gridwatch:family`` parameter), ``other`` if absent.
        first_time: Event time of its first message (normally the ``Alert``).
        last_time: Event time of its ``Cancel``; ``None`` while still open.
        peak_level: Highest level of any of its messages.
        messages: Number of distinct messages (by ``identifier``).
    """

    incident: str
    asset_id: str
    family: str
    first_time: datetime
    last_time: datetime | None
    peak_level: RiskLevel
    messages: int


def load_truth(path: Path | str) -> list[TruthIncident]:
    """Read a ground-truth file (JSON Lines, ``.gz`` allowed; blank lines skipped).

    Args:
        path: The file.

    Returns:
        The incidents and decoys in file order.

    Raises:
        ValueError: On the first malformed line, naming its line number.
    """
    return _read_lines(path, "ground truth", TruthIncident.model_validate_json)


def load_alerts(path: Path | str) -> list[Alert]:
    """Read alerts (JSON Lines of ``schemas.Alert``, ``.gz`` allowed; blank lines skipped).

    Args:
        path: The file.

    Returns:
        The alerts in file order.

    Raises:
        ValueError: On the first malformed line, naming its line number.
    """
    return _read_lines(path, "alert", lambda line: decode_model(line, Alert))


def _read_lines(path: Path | str, what: str, parse: Callable[[bytes], ItemT]) -> list[ItemT]:
    """Parse every line of a JSON Lines file; a bad line is a ValueError naming it."""
    items: list[ItemT] = []
    for number, line in read_log(Path(path)):
        try:
            items.append(parse(line))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'line'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise ValueError(f"{path}:{number}: invalid {what}: {problems}") from None
        except DecodeError as exc:
            raise ValueError(f"{path}:{number}: invalid {what}: {exc}") from None
    return items


def alert_family(alert: Alert) -> str | None:
    """Return the ``gridwatch:family`` parameter of an alert's first info block.

    Args:
        alert: The alert message.

    Returns:
        The family, or ``None`` when the alert carries none.
    """
    for parameter in alert.info[0].parameter:
        if parameter.valueName == FAMILY_PARAMETER:
            return parameter.value
    return None


def group_alerts(alerts: Iterable[Alert]) -> list[AlertIncident]:
    """Group alert messages into alert incidents by their ``incidents`` id.

    The first message is the one with the earliest event time (file order breaks
    ties); messages repeated with the same ``identifier`` count once.

    Args:
        alerts: Alert messages in any order.

    Returns:
        One summary per incident, ordered by first message time then incident id.
    """
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(alert.incidents or alert.identifier, []).append(alert)
    result: list[AlertIncident] = []
    for incident, messages in groups.items():
        first = min(messages, key=lambda m: m.event_time)
        families = (alert_family(m) for m in messages)
        family = next((f for f in families if f is not None), UNKNOWN_FAMILY)
        cancels = [m.event_time for m in messages if m.msgType == "Cancel"]
        peak = max(messages, key=lambda m: _LEVEL_RANK[m.level]).level
        result.append(
            AlertIncident(
                incident=incident,
                asset_id=first.asset_id,
                family=family,
                first_time=first.event_time,
                last_time=max(cancels) if cancels else None,
                peak_level=peak,
                messages=len({m.identifier for m in messages}),
            )
        )
    result.sort(key=lambda a: (a.first_time, a.incident))
    return result


def nearest_rank_percentile(values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of ``values``.

    The value at 1-based rank ``ceil(percent / 100 * n)`` of the sorted values
    (rank at least 1), so the result is always one of the values.

    Args:
        values: The observations.
        percent: The percentile, in (0, 100].

    Returns:
        The percentile, or ``None`` for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _within(alert: AlertIncident, truth: TruthIncident, grace: timedelta) -> bool:
    return (
        alert.asset_id == truth.asset_id
        and truth.start - timedelta(seconds=EARLY_S) <= alert.first_time <= truth.end + grace
    )


def _ratio(numerator: int, denominator: int, empty: float) -> float:
    return numerator / denominator if denominator else empty


def evaluate(
    alerts: Iterable[Alert], truth: Iterable[TruthIncident], grace_s: float = DEFAULT_GRACE_S
) -> dict[str, Any]:
    """Score alerts against a simulation's ground truth.

    Args:
        alerts: Alert messages (any order; grouped by incident here).
        truth: True incidents and decoys.
        grace_s: Seconds after a true incident's (or decoy's) end during which an
            alert incident's first message still matches it.

    Returns:
        A JSON-able dict with ``precision``, ``recall``, ``time_to_detect_p50_s``,
        ``time_to_detect_p90_s``, ``decoy_alerts``, ``decoy_watch_alerts``,
        ``incidents`` (true incidents), ``detected``, ``alert_incidents``,
        ``false_positive_incidents`` (ids of unmatched alert incidents) and
        ``by_type`` (per true incident type: ``incidents``, ``detected``,
        ``recall``, ``precision``, ``time_to_detect_p50_s``,
        ``time_to_detect_p90_s``, ``missed`` ids). See the module docstring for
        the rules.
    """
    grace = timedelta(seconds=grace_s)
    incidents = group_alerts(alerts)
    truth_list = list(truth)
    real = [t for t in truth_list if not t.decoy]
    decoys = [t for t in truth_list if t.decoy]

    by_asset: dict[str, list[AlertIncident]] = {}
    for incident in incidents:
        by_asset.setdefault(incident.asset_id, []).append(incident)

    matched: set[str] = set()
    ttd: dict[str, float] = {}  # true incident id -> seconds to detect
    for true in real:
        candidates = [a for a in by_asset.get(true.asset_id, []) if _within(a, true, grace)]
        if not candidates:
            continue
        matched.update(a.incident for a in candidates)
        first = min(candidates, key=lambda a: (a.first_time, a.incident))
        ttd[true.incident_id] = max(0.0, (first.first_time - true.start).total_seconds())

    decoy_alerts: set[str] = set()
    decoy_watch_alerts: set[str] = set()
    for decoy in decoys:
        for alert in by_asset.get(decoy.asset_id, []):
            if _within(alert, decoy, grace):
                target = decoy_watch_alerts if alert.peak_level == "watch" else decoy_alerts
                target.add(alert.incident)

    detected_real = [t for t in real if t.incident_id in ttd]
    # Without alert incidents, precision is 1.0 only if there was nothing to detect.
    precision = _ratio(len(matched), len(incidents), 0.0 if real else 1.0)

    by_type: dict[str, dict[str, Any]] = {}
    for kind in sorted({t.type for t in real}):
        of_kind = [t for t in real if t.type == kind]
        times = [ttd[t.incident_id] for t in of_kind if t.incident_id in ttd]
        family = INCIDENT_TYPE_FAMILY.get(kind)
        of_family = [a for a in incidents if family is not None and a.family == family]
        by_type[kind] = {
            "incidents": len(of_kind),
            "detected": len(times),
            "recall": _ratio(len(times), len(of_kind), 1.0),
            "precision": _ratio(
                sum(1 for a in of_family if a.incident in matched), len(of_family), 1.0
            ),
            "time_to_detect_p50_s": nearest_rank_percentile(times, 50),
            "time_to_detect_p90_s": nearest_rank_percentile(times, 90),
            "missed": [t.incident_id for t in of_kind if t.incident_id not in ttd],
        }

    all_times = [ttd[t.incident_id] for t in detected_real]
    return {
        "precision": precision,
        "recall": _ratio(len(detected_real), len(real), 1.0),
        "time_to_detect_p50_s": nearest_rank_percentile(all_times, 50),
        "time_to_detect_p90_s": nearest_rank_percentile(all_times, 90),
        "decoy_alerts": len(decoy_alerts),
        "decoy_watch_alerts": len(decoy_watch_alerts),
        "incidents": len(real),
        "detected": len(detected_real),
        "alert_incidents": len(incidents),
        "false_positive_incidents": [a.incident for a in incidents if a.incident not in matched],
        "by_type": by_type,
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render_table(result: dict[str, Any]) -> Table:
    """Build a rich table of an :func:`evaluate` result: one row per type, then a total.

    Args:
        result: What :func:`evaluate` returned.

    Returns:
        The table.
    """
    table = Table(
        title="gridwatch evaluate (time to detect in seconds)",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
    )
    for column in ("type", "incidents", "detected", "recall", "precision", "TTD p50", "TTD p90"):
        if column == "type":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for kind, row in result["by_type"].items():
        table.add_row(kind, *_cells(row))
    table.add_section()
    table.add_row("total", *_cells(result), style="bold")
    return table


def _cells(row: dict[str, Any]) -> list[str]:
    return [
        str(row["incidents"]),
        str(row["detected"]),
        f"{row['recall']:.3f}",
        f"{row['precision']:.3f}",
        _seconds(row["time_to_detect_p50_s"]),
        _seconds(row["time_to_detect_p90_s"]),
    ]


def print_report(result: dict[str, Any], console: Console) -> None:
    """Print an :func:`evaluate` result for people: the table, decoy counts, false positives.

    Args:
        result: What :func:`evaluate` returned.
        console: Where to print.
    """
    console.print(render_table(result))
    console.print(
        f"alert incidents: {result['alert_incidents']}; decoy alerts above watch: "
        f"{result['decoy_alerts']}; decoy alerts at watch: {result['decoy_watch_alerts']}",
        highlight=False,
    )
    false_positives = result["false_positive_incidents"]
    console.print(f"false positives ({len(false_positives)}):", highlight=False)
    for incident in false_positives:
        console.print(f"  {incident}", highlight=False, soft_wrap=True)
    for kind, row in result["by_type"].items():
        if row["missed"]:
            console.print(f"missed {kind}: {', '.join(row['missed'])}", highlight=False)
