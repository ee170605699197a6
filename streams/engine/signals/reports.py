"""Reports by people: hotline complaints and inspection findings per asset."""

from __future__ import annotations

import math
from typing import Any, Self

from streams.engine.config import EngineConfig
from streams.engine.signals.factor import Factor


class _Records:
    """A dict of id -> record list that persists as plain data."""

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: dict[str, list[Any]] = {}

    def snapshot(self) -> dict[str, list[Any]]:
        """Plain data for persistence."""
        return self._records

    @classmethod
    def restore(cls, data: dict[str, list[Any]]) -> Self:
        """Rebuild from :meth:`snapshot`."""
        records = cls()
        records._records = {k: list(v) for k, v in data.items()}
        return records


class HotlinePressure(_Records):
    """Relevant complaints per family in a sliding event-time window, time-decayed.

    De-duplicated by ``service_request_id``: a case counts once however often
    it is updated; a closed case stops counting.
    """

    # Records: service_request_id -> [t, family, open, event_id, summary, status_t]
    __slots__ = ()

    def observe(
        self, t: float, case_id: str, family: str, is_open: bool, event_id: str, summary: str
    ) -> None:
        """Record a case update (its newest status by event time wins)."""
        entry = self._records.get(case_id)
        if entry is None:
            self._records[case_id] = [t, family, is_open, event_id, summary, t]
            return
        entry[0] = min(entry[0], t)  # the case counts from when it was first reported
        if t >= entry[5]:
            entry[2] = is_open
            entry[5] = t
            if is_open:
                entry[3], entry[4] = event_id, summary

    def factors(self, now: float, config: EngineConfig) -> list[Factor]:
        """One factor per family with open cases in the window."""
        window = config.hotline_window_s
        for case_id in [k for k, v in self._records.items() if v[0] < now - window - 60]:
            del self._records[case_id]
        weights: dict[str, float] = {}
        counts: dict[str, int] = {}
        evidence: dict[str, list[tuple[float, str, str]]] = {}
        for t, family, is_open, event_id, summary, _ in self._records.values():
            if not is_open or t < now - window or t > now:
                continue
            weight = 0.5 ** ((now - t) / config.hotline_half_life_s)
            weights[family] = weights.get(family, 0.0) + weight
            counts[family] = counts.get(family, 0) + 1
            evidence.setdefault(family, []).append((t, event_id, summary))
        result = []
        for family, weight in weights.items():
            contribution = config.hotline_cap * (1.0 - math.exp(-weight / config.hotline_scale))
            cases = sorted(evidence[family])[-config.max_evidence :]
            result.append(
                Factor(
                    name="hotline_pressure",
                    source="hotline",
                    family=family,
                    contribution=contribution,
                    detail=f"{counts[family]} open complaint(s) in "
                    f"{window / 60:.0f} min, decayed weight {weight:.2f}",
                    evidence=tuple((event_id, summary) for _, event_id, summary in cases),
                )
            )
        return result


class InspectionFindings(_Records):
    """Open inspection findings by severity, until rectified."""

    # Records: inspection_id -> [t, family, hazard, severity, open, event_id]
    __slots__ = ()

    def observe(
        self,
        t: float,
        inspection_id: str,
        family: str,
        hazard: str,
        severity: int,
        is_open: bool,
        event_id: str,
    ) -> None:
        """Record a finding's status (its newest status by event time wins)."""
        entry = self._records.get(inspection_id)
        if entry is not None and entry[0] > t:
            return
        # A rectification is remembered too, so an older "open" arriving late is ignored.
        self._records[inspection_id] = [t, family, hazard, severity, is_open, event_id]

    def factors(self, now: float, config: EngineConfig) -> list[Factor]:
        """The most severe open finding per family (others listed as evidence)."""
        for key in [k for k, v in self._records.items() if not v[4] and v[0] < now - 86_400.0]:
            del self._records[key]
        best: dict[str, list[Any]] = {}
        evidence: dict[str, list[tuple[str, str]]] = {}
        for _, family, hazard, severity, is_open, event_id in self._records.values():
            if not is_open:
                continue
            evidence.setdefault(family, []).append(
                (event_id, f"open {hazard} finding, severity {severity}")
            )
            current = best.get(family)
            if current is None or severity > current[1]:
                best[family] = [hazard, severity]
        return [
            Factor(
                name=f"inspection:{hazard}",
                source="inspection",
                family=family,
                contribution=config.inspection_severity[severity - 1],
                detail=f"open {hazard} finding of severity {severity}",
                evidence=tuple(evidence[family][-config.max_evidence :]),
            )
            for family, (hazard, severity) in best.items()
        ]
