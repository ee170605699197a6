"""``gridwatch bench nab``: the learned detector scored on the Numenta Anomaly Benchmark.

Each NAB series becomes the sensor readings of one asset, with a metric of
its own that no rule knows, and runs through :func:`~streams.core.offline.process_log`
(the path of ``gridwatch process``). Every ``Alert`` message (a new incident)
counts as one detection, at the reading whose evaluation sent it. The
detections are scored with NAB's standard profile, as NAB's ``sweeper.py``
does it:

- a labeled window scores its earliest detection by a scaled sigmoid of the
  position in the window (1 at its start, about 0 at its end), weight 1; a
  window without a detection costs 1 (false negative);
- every detection outside a window costs 0.11 times a scaled sigmoid of its
  distance past the previous window (in widths of that window; the full 0.11
  before the first window);
- the first 15% of a file (at most 750 rows) is probation: nothing there counts;
- a subset's score is ``100 * (raw - null) / (perfect - null)``, where the null
  detector never fires and the perfect one fires at every window's start.

:func:`score_detector_results` scores NAB's own result files the same way, so
the scorer can be checked against the published numbers.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson

from streams.core.offline import process_log
from streams.engine.config import EngineConfig
from streams.engine.registry import AssetRegistry

SUBSETS: Final = ("realTraffic", "realAWSCloudwatch", "realAdExchange")

# Standard profile (NAB config/profiles.json).
TP_WEIGHT: Final = 1.0
FP_WEIGHT: Final = 0.11
FN_WEIGHT: Final = 1.0
PROBATION: Final = 0.15

# The best published detectors per subset, standard profile, recomputed from
# NAB's result files (../shared/data/README.md; tests/fixtures/nab_published.json).
PUBLISHED: Final[dict[str, dict[str, float]]] = {
    "realTraffic": {"contextOSE": 91.2, "ARTime": 86.9, "numenta": 82.5, "windowedGaussian": 64.3},
    "realAWSCloudwatch": {"numenta": 73.4, "contextOSE": 71.5, "ARTime": 69.5},
    "realAdExchange": {"numenta": 76.9, "ARTime": 75.1, "contextOSE": 72.0},
}


@dataclass(frozen=True, slots=True)
class NabSeries:
    """One NAB data file and its labels.

    Attributes:
        subset: e.g. ``realTraffic``.
        name: File name, e.g. ``speed_7578.csv``.
        timestamps: Row timestamps (NAB's, without a zone).
        values: Row values.
        windows: Labeled anomaly windows as (first row, last row).
    """

    subset: str
    name: str
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]
    windows: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class FileScore:
    """A file's standard-profile score.

    Attributes:
        raw: Sum of the window scores and false-positive costs.
        windows: Windows that count (not inside the probation).
        detected: Windows with a detection.
        detections: Detections after the probation.
        false_positives: Detections outside every window, after the probation.
        null: The raw score of a detector that never fires.
        perfect: The raw score of one that fires at every window's start.
    """

    raw: float
    windows: int
    detected: int
    detections: int
    false_positives: int
    null: float
    perfect: float


@dataclass(slots=True)
class SubsetScore:
    """A subset's files and its normalised score."""

    subset: str
    files: list[tuple[str, FileScore]] = field(default_factory=list)

    @property
    def raw(self) -> float:
        """Sum of the files' raw scores."""
        return sum(s.raw for _, s in self.files)

    @property
    def null(self) -> float:
        """Raw score of a detector that never fires."""
        return sum(s.null for _, s in self.files)

    @property
    def perfect(self) -> float:
        """Raw score of one that fires at every window's start."""
        return sum(s.perfect for _, s in self.files)

    @property
    def score(self) -> float | None:
        """``100 * (raw - null) / (perfect - null)``; None for a subset without windows.

        (A subset without labeled windows, such as NAB's artificialNoAnomaly,
        has perfect = null = 0: only its raw score, the false positives' cost, says
        anything.)
        """
        null, perfect = self.null, self.perfect
        return 100.0 * (self.raw - null) / (perfect - null) if perfect != null else None


def scaled_sigmoid(position: float) -> float:
    """NAB's scaled sigmoid: ~0.987 at -1 (a window's start), 0 at its end, -1 beyond 3."""
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def _row_weights(rows: int, windows: Sequence[tuple[int, int]]) -> list[tuple[int | None, float]]:
    """Per row: (window index or None, weighted score of a detection there)."""
    max_tp = scaled_sigmoid(-1.0)
    weights: list[tuple[int | None, float]] = []
    current: int | None = None
    previous: tuple[int, int] | None = None
    pending = list(enumerate(windows))
    for row in range(rows):
        if current is None and pending and pending[0][1][0] == row:
            current = pending.pop(0)[0]
        if current is not None:
            first, last = windows[current]
            width = last - first + 1
            weight = scaled_sigmoid(-(last - row + 1) / width) * TP_WEIGHT / max_tp
            weights.append((current, weight))
            if row == last:
                previous = windows[current]
                current = None
        else:
            if previous is None:
                position = 3.0
            else:
                first, last = previous
                position = abs(last - row) / float(last - first)
            weights.append((None, scaled_sigmoid(position) * FP_WEIGHT))
    return weights


def probation_rows(rows: int) -> float:
    """Rows at the start of a file where detections do not count (NAB's rule)."""
    return min(math.floor(PROBATION * rows), PROBATION * 5000)


def score_file(
    rows: int, windows: Sequence[tuple[int, int]], detections: Iterable[int]
) -> FileScore:
    """Score detections (row numbers) in a file of ``rows`` rows with NAB's standard profile."""
    weights = _row_weights(rows, windows)
    probation = probation_rows(rows)
    counted = [i for i, (first, last) in enumerate(windows) if last >= probation]
    best = {i: -FN_WEIGHT for i in counted}
    false_positive_cost = 0.0
    false_positives = 0
    shown = 0
    for row in sorted(set(detections)):
        if row < probation or not 0 <= row < rows:
            continue
        shown += 1
        window, weight = weights[row]
        if window is None:
            false_positive_cost += weight
            false_positives += 1
        elif window in best:
            best[window] = max(best[window], weight)
    perfect = sum(weights[windows[i][0]][1] for i in counted)
    return FileScore(
        raw=false_positive_cost + sum(best.values()),
        windows=len(counted),
        detected=sum(1 for v in best.values() if v > -FN_WEIGHT),
        detections=shown,
        false_positives=false_positives,
        null=-FN_WEIGHT * len(counted),
        perfect=perfect,
    )


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def layout(root: Path) -> tuple[Path, Path]:
    """(labels file, folder of the subset folders) of ``root``.

    Either ``windows.json`` beside the subset folders (``../shared/data/nab``), or
    a checkout of NAB itself (``labels/combined_windows.json`` and ``data/``).
    """
    if (root / "windows.json").is_file():
        return root / "windows.json", root
    return root / "labels" / "combined_windows.json", root / "data"


def subset_names(root: Path) -> list[str]:
    """The subset folders of ``root`` that hold CSV files, sorted."""
    folders = layout(root)[1]
    if not folders.is_dir():
        return []
    return sorted(p.name for p in folders.iterdir() if p.is_dir() and any(p.glob("*.csv")))


def load_series(root: Path, subsets: Sequence[str] = SUBSETS) -> list[NabSeries]:
    """Read the labels and the CSV files of each subset (sorted by name); see :func:`layout`.

    Raises:
        FileNotFoundError: When the labels file or a subset is missing.
        ValueError: When a window's timestamp is not a row of its file.
    """
    labels_file, folders = layout(root)
    labels: dict[str, list[list[str]]] = orjson.loads(labels_file.read_bytes())
    series: list[NabSeries] = []
    for subset in subsets:
        folder = folders / subset
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: no such NAB subset")
        for path in sorted(folder.glob("*.csv")):
            rows = list(csv.reader(io.StringIO(path.read_text())))[1:]
            timestamps = tuple(_parse_time(r[0]) for r in rows)
            index = {t: i for i, t in enumerate(timestamps)}
            windows: list[tuple[int, int]] = []
            for start, end in labels.get(f"{subset}/{path.name}", []):
                try:
                    windows.append((index[_parse_time(start)], index[_parse_time(end)]))
                except KeyError as exc:
                    raise ValueError(f"{subset}/{path.name}: window edge {exc} is no row") from exc
            series.append(
                NabSeries(
                    subset, path.name, timestamps, tuple(float(r[1]) for r in rows), tuple(windows)
                )
            )
    return series


def _metric(name: str) -> str:
    """A snake_case metric no rule knows, from the file name."""
    stem = re.sub(r"[^a-z0-9]+", "_", Path(name).stem.lower()).strip("_")
    return f"nab_{stem}"


def series_events(series: NabSeries, zone: ZoneInfo) -> list[bytes]:
    """The series as sensor readings of one asset, NAB's clock read in ``zone``."""
    asset = f"nab-{series.subset}-{Path(series.name).stem}"
    asset = re.sub(r"[^A-Za-z0-9_.:-]+", "-", asset)
    metric = _metric(series.name)
    lines = []
    for row, (stamp, value) in enumerate(zip(series.timestamps, series.values, strict=True)):
        lines.append(
            orjson.dumps(
                {
                    "kind": "sensor",
                    "event_id": f"{asset}-{row}",
                    "event_time": stamp.replace(tzinfo=zone).isoformat(),
                    "source": "nab",
                    "sensor_id": f"{asset}-sensor",
                    "asset_id": asset,
                    "metric": metric,
                    "value": value,
                }
            )
        )
    return lines


def detect(series: NabSeries, config: EngineConfig) -> list[int]:
    """Run the series through the engine; the rows whose evaluation sent an ``Alert``.

    NAB's timestamps carry no zone: they are read as UTC and the engine's local
    time is set to UTC, so its hours of the day are NAB's (and no daylight-saving
    change folds two rows into one instant).
    """
    zone = ZoneInfo("UTC")
    config = replace(config, timezone="UTC")
    row_at = {
        stamp.replace(tzinfo=zone).timestamp(): row for row, stamp in enumerate(series.timestamps)
    }
    out = io.BytesIO()
    lines = iter(enumerate(series_events(series, zone), start=1))
    process_log(lines, AssetRegistry([]), config, out)
    rows: list[int] = []
    for line in out.getvalue().splitlines():
        alert: dict[str, Any] = orjson.loads(line)
        if alert["msgType"] == "Alert":
            rows.append(row_at[datetime.fromisoformat(alert["sent"]).timestamp()])
    return rows


def score_series(
    series: Sequence[NabSeries],
    detector: Callable[[NabSeries], Iterable[int]],
    progress: Callable[[NabSeries], None] | None = None,
) -> dict[str, SubsetScore]:
    """Score a detector (series → detection rows) on every series, per subset."""
    subsets: dict[str, SubsetScore] = {}
    for one in series:
        rows = list(detector(one))
        score = score_file(len(one.values), one.windows, rows)
        subsets.setdefault(one.subset, SubsetScore(one.subset)).files.append((one.name, score))
        if progress is not None:
            progress(one)
    return subsets


def result_detections(path: Path, threshold: float) -> list[int]:
    """Rows of a NAB result file (``timestamp,value,anomaly_score,…``) at or above ``threshold``."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return [i for i, row in enumerate(reader) if float(row["anomaly_score"]) >= threshold]


def score_detector_results(
    series: Sequence[NabSeries], results: Path, detector: str, threshold: float
) -> dict[str, SubsetScore]:
    """Score NAB's own result files (``results/DETECTOR/SUBSET/DETECTOR_FILE.csv``)."""
    return score_series(
        series,
        lambda one: result_detections(
            results / detector / one.subset / f"{detector}_{one.name}", threshold
        ),
    )


def report(subsets: dict[str, SubsetScore]) -> dict[str, Any]:
    """The scores as plain data (per subset: score, best published, files)."""
    return {
        name: {
            "score": None if subset.score is None else round(subset.score, 2),
            "raw": round(subset.raw, 4),
            "null": round(subset.null, 4),
            "perfect": round(subset.perfect, 4),
            "best_published": max(
                PUBLISHED.get(name, {}).items(), key=lambda kv: kv[1], default=None
            ),
            "files": [
                {
                    "file": file,
                    "windows": s.windows,
                    "detected": s.detected,
                    "detections": s.detections,
                    "false_positives": s.false_positives,
                    "raw": round(s.raw, 4),
                }
                for file, s in subset.files
            ],
        }
        for name, subset in subsets.items()
    }
