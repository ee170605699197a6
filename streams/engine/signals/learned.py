"""The learned detector: anomalies on a series that no threshold table knows.

A city has thousands of metrics without a physical rule. For each such series
the detector learns, from the series alone, what is usual and raises one
finding per anomalous episode. Three views of the same readings, each cheap:

- **New level**: the value lands in a level (a bin of the range seen in the
  warm-up) that the series has not visited in its recent history, and it is
  far from both the series' usual level and the usual level of this hour of
  the day. Catches spikes, drops and level shifts into new territory, and
  ignores the slow exploration of a noisy series' tails.
- **Beyond the recent range**: the value lies well outside the range of the
  last few hundred readings *and* of the same hours of the previous days.
  Catches a spike after a calm spell even when larger spikes happened long
  ago, and leaves alone what happens every day at that hour (a nightly job).
- **Unusual sequence**: a first-order model of how the series moves between
  levels scores each step by how unexpected it was; an anomaly likelihood
  compares the average surprise of the last readings with its own long-run
  distribution (after Numenta's anomaly likelihood). Catches a change of
  behaviour (a series that starts to flap) where no single value is new.

After a finding the detector stays quiet for a refractory number of readings,
so an episode raises one alert, not one per reading. Nothing is judged before
a warm-up of readings and of time (one day, so the daily cycle has been seen).

Work per reading is bounded (a few dozen operations) and so is memory: a few
hundred numbers per series, whatever its length. The state snapshots to plain
data like the other signals.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from streams.engine.config import LearnedSettings
from streams.engine.signals.factor import fmt_value

Kind = Literal["new_level", "beyond_range", "unusual_sequence"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What the detector saw in one reading.

    Attributes:
        kind: Which view raised it.
        detail: One line an operator can read (without the metric's name).
    """

    kind: Kind
    detail: str


_LIMIT = 1e150
_MAX_LEVEL = 2**40


class LearnedDetector:
    """The learned detector of one series; see the module docstring.

    Feed readings in event-time order with :meth:`observe`.
    """

    __slots__ = (
        "_block_hi",
        "_block_lo",
        "_block_n",
        "_blocks",
        "_hours",
        "_last_finding",
        "_level",
        "_level_hi",
        "_level_lo",
        "_level_origin",
        "_level_width",
        "_levels",
        "_n",
        "_same_hours",
        "_seq_mean",
        "_seq_n",
        "_seq_origin",
        "_seq_prev",
        "_seq_recent",
        "_seq_sum",
        "_seq_var",
        "_seq_width",
        "_spread",
        "_start_t",
        "_transitions",
        "_warmup",
    )

    def __init__(self) -> None:
        self._n = 0  # readings seen
        self._start_t: float | None = None
        self._last_finding = -(10**9)
        self._warmup: list[float] | None = []  # None once the levels are set
        # New level: the levels visited, and the reading and time of the last visit.
        self._level_origin = 0.0
        self._level_width = 0.0
        self._level_lo = math.inf
        self._level_hi = -math.inf
        self._levels: dict[int, tuple[int, float]] = {}  # level -> (reading, time) of last visit
        # Usual level and deviation, overall and per hour of the day.
        self._level: float | None = None
        self._spread = 0.0
        self._hours: dict[int, list[float]] = {}  # hour -> [count, level, spread]
        # Recent range: (high, low) of complete blocks, and the open block.
        self._blocks: deque[tuple[float, float]] = deque()
        self._block_hi = -math.inf
        self._block_lo = math.inf
        self._block_n = 0
        # Same hours of previous days: hour -> [[day, high, low], ...].
        self._same_hours: dict[int, list[list[float]]] = {}
        # Unusual sequence: transition counts between levels, and the surprise.
        self._seq_origin = 0.0
        self._seq_width = 0.0
        self._seq_prev: int | None = None
        self._transitions: dict[int, dict[int, float]] = {}
        self._seq_recent: deque[float] = deque()
        self._seq_sum = 0.0
        self._seq_n = 0
        self._seq_mean = 0.0
        self._seq_var = 0.0

    def observe(
        self, t: float, value: float, hour: int, day: int, settings: LearnedSettings
    ) -> Finding | None:
        """Take one reading (event time ``t``, local ``hour`` and ``day`` number)."""
        # Any finite float is a valid reading; beyond +-1e150 differences of two
        # readings could overflow to inf and poison the state with NaN.
        value = min(max(value, -_LIMIT), _LIMIT)
        if self._start_t is None:
            self._start_t = t
        index = self._n
        armed = index >= settings.warmup_readings and t - self._start_t >= settings.warmup_s
        if self._level is None:
            self._level = value
        deviation = abs(value - self._level) / max(1.25 * self._spread, 1e-12)
        hour_stats = self._hours.get(hour)
        if hour_stats is not None and hour_stats[0] >= settings.hour_warmup:
            hour_deviation = abs(value - hour_stats[1]) / max(1.25 * hour_stats[2], 1e-12)
            deviation = max(deviation, hour_deviation)
        finding: Finding | None = None
        if self._visit(value, index, t, settings) and armed and deviation >= settings.level_z:
            finding = Finding(
                "new_level",
                f"{fmt_value(value)} is at a level this series has not reached in its last "
                f"{settings.forget_readings} readings",
            )
        beyond = self._beyond_range(value, hour, day, settings) if armed else None
        if beyond is not None:
            finding = Finding("beyond_range", beyond)
        self._remember_range(value, hour, day, settings)
        if self._sequence(value, settings) and armed and finding is None:
            finding = Finding(
                "unusual_sequence",
                f"{fmt_value(value)}: the last {settings.sequence_window} readings moved "
                "between levels in an unusual way",
            )
        self._learn_usual(value, hour, settings)
        self._n = index + 1
        if finding is None or index - self._last_finding <= settings.refractory_readings:
            return None
        self._last_finding = index
        return finding

    # -- new level

    def _visit(self, value: float, index: int, t: float, settings: LearnedSettings) -> bool:
        """Record a visit to the value's level; whether the level was new."""
        warmup = self._warmup
        if warmup is not None:
            warmup.append(value)
            if len(warmup) >= settings.warmup_readings:
                self._set_levels(warmup, index, t, settings)
            return False
        ratio = (value - self._level_origin) / self._level_width
        level = math.floor(min(max(ratio, -_MAX_LEVEL), _MAX_LEVEL))
        last = self._levels.get(level)
        new = last is None or (
            index - last[0] > settings.forget_readings and t - last[1] > settings.forget_s
        )
        self._levels[level] = (index, t)
        self._level_lo = min(self._level_lo, value)
        self._level_hi = max(self._level_hi, value)
        self._merge_levels(settings)
        return new

    def _set_levels(
        self, warmup: list[float], index: int, t: float, settings: LearnedSettings
    ) -> None:
        low, high = min(warmup), max(warmup)
        self._level_origin = low
        self._level_width = max((high - low) / settings.level_bins, 1e-9)
        self._level_lo, self._level_hi = low, high
        for value in warmup:
            self._levels[math.floor((value - low) / self._level_width)] = (index, t)
        self._merge_levels(settings)
        # The sequence model uses the same warm-up range and learns the warm-up
        # (the newest reading, the one that ends it, is learnt by `observe`).
        self._warmup = None
        self._seq_origin = low
        self._seq_width = max((high - low) / settings.sequence_bins, 1e-9)
        for value in warmup[:-1]:
            self._sequence(value, settings)

    def _merge_levels(self, settings: LearnedSettings) -> None:
        # Bounded memory: once the range spans too many levels, halve their number.
        limit = settings.level_growth * settings.level_bins
        while (self._level_hi - self._level_lo) / self._level_width > limit:
            self._level_width *= 2
            merged: dict[int, tuple[int, float]] = {}
            for level, last in self._levels.items():
                half = level // 2
                merged[half] = max(last, merged.get(half, last))
            self._levels = merged

    # -- beyond the recent range

    def _beyond_range(
        self, value: float, hour: int, day: int, settings: LearnedSettings
    ) -> str | None:
        if self._n < settings.recent_readings // 2:
            return None
        high, low = self._block_hi, self._block_lo
        for block_high, block_low in self._blocks:
            high = max(high, block_high)
            low = min(low, block_low)
        margin = settings.range_margin * max(high - low, 1e-9)
        for near in ((hour - 1) % 24, hour, (hour + 1) % 24):
            for seen_day, seen_high, seen_low in self._same_hours.get(near, ()):
                if day - seen_day <= settings.same_hours_days:
                    high = max(high, seen_high)
                    low = min(low, seen_low)
        if low - margin < value < high + margin:
            return None
        return (
            f"{fmt_value(value)} is far outside {fmt_value(low)}..{fmt_value(high)}, its range "
            f"of the last {settings.recent_readings} readings and of these hours on the last "
            f"{settings.same_hours_days} days"
        )

    def _remember_range(self, value: float, hour: int, day: int, settings: LearnedSettings) -> None:
        self._block_hi = max(self._block_hi, value)
        self._block_lo = min(self._block_lo, value)
        self._block_n += 1
        if self._block_n >= settings.recent_block:
            self._blocks.append((self._block_hi, self._block_lo))
            while len(self._blocks) * settings.recent_block > settings.recent_readings:
                self._blocks.popleft()
            self._block_hi, self._block_lo, self._block_n = -math.inf, math.inf, 0
        days = self._same_hours.setdefault(hour, [])
        if days and days[-1][0] == day:
            entry = days[-1]
            entry[1] = max(entry[1], value)
            entry[2] = min(entry[2], value)
        else:
            days.append([float(day), value, value])
            if len(days) > settings.same_hours_days + 1:
                del days[0]

    # -- unusual sequence

    def _sequence(self, value: float, settings: LearnedSettings) -> bool:
        """Learn one step of the sequence model; whether the recent surprise is unusual."""
        if self._warmup is not None:
            return False  # replayed from the warm-up once the levels are set
        bins = settings.sequence_bins
        ratio = (value - self._seq_origin) / self._seq_width
        level = math.floor(min(max(ratio, -2.0), bins + 2.0))
        previous, self._seq_prev = self._seq_prev, level
        if previous is None:
            return False
        row = self._transitions.setdefault(previous, {})
        total = sum(row.values())
        probability = (row.get(level, 0.0) + 0.1) / (total + 0.1 * (bins + 5))
        row[level] = row.get(level, 0.0) + 1.0
        recent = self._seq_recent
        recent.append(1.0 - probability)
        self._seq_sum += 1.0 - probability
        if len(recent) > settings.sequence_window:
            self._seq_sum -= recent.popleft()
        average = self._seq_sum / len(recent)
        unusual = False
        if self._seq_n > settings.sequence_learn:
            z = (average - self._seq_mean) / math.sqrt(max(self._seq_var, 1e-6))
            unusual = z > settings.sequence_z
        self._seq_n += 1
        rate = max(1.0 / self._seq_n, settings.sequence_rate)
        delta = average - self._seq_mean
        self._seq_mean += rate * delta
        self._seq_var = (1.0 - rate) * (self._seq_var + rate * delta * delta)
        return unusual

    # -- usual level

    def _learn_usual(self, value: float, hour: int, settings: LearnedSettings) -> None:
        n = self._n + 1
        assert self._level is not None
        delta = value - self._level
        self._level += max(settings.level_rate, 1.0 / (n + 1)) * delta
        self._spread += max(settings.spread_rate, 1.0 / n) * (abs(delta) - self._spread)
        stats = self._hours.get(hour)
        if stats is None:
            self._hours[hour] = [1.0, value, 0.0]
            return
        stats[0] += 1.0
        delta = value - stats[1]
        stats[1] += max(1.0 / stats[0], settings.hour_rate) * delta
        stats[2] += max(1.0 / (stats[0] - 1.0), settings.hour_rate) * (abs(delta) - stats[2])

    # -- persistence

    def snapshot(self) -> dict[str, Any]:
        """Plain data for persistence."""
        return {
            "n": self._n,
            "start": self._start_t,
            "last": self._last_finding,
            "warmup": self._warmup,
            "levels": [
                self._level_origin,
                self._level_width,
                self._level_lo if self._warmup is None else None,
                self._level_hi if self._warmup is None else None,
                [[k, i, t] for k, (i, t) in self._levels.items()],
            ],
            "usual": [self._level, self._spread, {str(h): s for h, s in self._hours.items()}],
            "recent": [
                [list(b) for b in self._blocks],
                None if self._block_n == 0 else [self._block_hi, self._block_lo],
                self._block_n,
            ],
            "hours": {str(h): days for h, days in self._same_hours.items()},
            "sequence": [
                self._seq_origin,
                self._seq_width,
                self._seq_prev,
                [[k, [[b, c] for b, c in row.items()]] for k, row in self._transitions.items()],
                list(self._seq_recent),
                self._seq_n,
                self._seq_mean,
                self._seq_var,
            ],
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> LearnedDetector:
        """Rebuild from :meth:`snapshot`."""
        detector = cls()
        detector._n = int(data["n"])
        detector._start_t = data["start"]
        detector._last_finding = int(data["last"])
        warmup = data["warmup"]
        detector._warmup = None if warmup is None else [float(v) for v in warmup]
        origin, width, low, high, levels = data["levels"]
        detector._level_origin = float(origin)
        detector._level_width = float(width)
        detector._level_lo = math.inf if low is None else float(low)
        detector._level_hi = -math.inf if high is None else float(high)
        detector._levels = {int(k): (int(i), float(t)) for k, i, t in levels}
        level, spread, hours = data["usual"]
        detector._level = level
        detector._spread = float(spread)
        detector._hours = {int(h): [float(x) for x in s] for h, s in hours.items()}
        blocks, open_block, block_n = data["recent"]
        detector._blocks = deque((float(h), float(lo)) for h, lo in blocks)
        if open_block is not None:
            detector._block_hi, detector._block_lo = float(open_block[0]), float(open_block[1])
        detector._block_n = int(block_n)
        detector._same_hours = {
            int(h): [[float(x) for x in entry] for entry in days]
            for h, days in data["hours"].items()
        }
        origin, width, prev, transitions, recent, seq_n, mean, var = data["sequence"]
        detector._seq_origin = float(origin)
        detector._seq_width = float(width)
        detector._seq_prev = prev
        detector._transitions = {
            int(k): {int(b): float(c) for b, c in row} for k, row in transitions
        }
        detector._seq_recent = deque(float(r) for r in recent)
        detector._seq_sum = sum(detector._seq_recent)
        detector._seq_n = int(seq_n)
        detector._seq_mean = float(mean)
        detector._seq_var = float(var)
        return detector
