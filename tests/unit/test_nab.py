"""The NAB scorer against hand-computed cases and NAB's published scores, and `bench nab`."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from streams.cli.main import cli
from streams.lab import nab

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_a_detection_at_a_windows_start_scores_one_and_a_miss_minus_one() -> None:
    # 100 rows: probation is the first 15; one window at rows 40..49.
    windows = [(40, 49)]
    assert nab.score_file(100, windows, [40]).raw == pytest.approx(1.0)
    assert nab.score_file(100, windows, []).raw == -1.0
    assert nab.score_file(100, windows, [40]).perfect == pytest.approx(1.0)
    # Only the earliest detection of a window counts; the end of a window scores ~0.
    late = nab.scaled_sigmoid(-1 / 10) / nab.scaled_sigmoid(-1.0)
    assert nab.score_file(100, windows, [49]).raw == pytest.approx(late)
    assert nab.score_file(100, windows, [40, 49]).raw == pytest.approx(1.0)


def test_false_positives_cost_011_before_windows_less_right_after_one() -> None:
    windows = [(40, 49)]
    early = nab.score_file(100, windows, [40, 20])
    assert early.raw == pytest.approx(1.0 - 0.11)
    assert early.false_positives == 1
    # Five rows after the window's end: 0.11 x scaled sigmoid(5 / 9).
    after = nab.score_file(100, windows, [40, 54])
    assert after.raw == pytest.approx(1.0 + 0.11 * nab.scaled_sigmoid(5 / 9))
    assert -0.11 < after.raw - 1.0 < 0


def test_probation_rows_count_for_nothing() -> None:
    assert nab.probation_rows(100) == 15
    assert nab.probation_rows(10_000) == 750
    scored = nab.score_file(100, [(40, 49)], [3, 14, 40])
    assert scored.detections == 1
    assert scored.raw == pytest.approx(1.0)


def test_subset_score_is_normalised_between_null_and_perfect() -> None:
    subset = nab.SubsetScore("s")
    subset.files.append(("a", nab.score_file(100, [(40, 49)], [40])))
    subset.files.append(("b", nab.score_file(100, [(30, 39), (60, 69)], [])))
    # raw 1 - 2 = -1; null -3; perfect 3: 100 * 2 / 6.
    assert subset.score == pytest.approx(100 * 2 / 6)
    assert math.isclose(nab.scaled_sigmoid(-1.0), 2 / (1 + math.exp(-5)) - 1)


def test_the_scorer_reproduces_the_published_scores_of_nab_detectors() -> None:
    # Detections of NAB's own result files (see the fixture's "source").
    data = orjson.loads((FIXTURES / "nab_published.json").read_bytes())
    files = data["files"]
    checked = 0
    for name, detector in data["detectors"].items():
        subsets: dict[str, nab.SubsetScore] = {}
        for key, rows in detector["detections"].items():
            subset = key.split("/")[0]
            spec = files[key]
            score = nab.score_file(spec["rows"], [tuple(w) for w in spec["windows"]], rows)
            subsets.setdefault(subset, nab.SubsetScore(subset)).files.append((key, score))
        for subset, published in detector["published"].items():
            assert subsets[subset].score == pytest.approx(published, abs=0.1), (name, subset)
            checked += 1
    assert checked >= 6


def test_bench_nab_runs_the_engine_on_a_subset_and_beats_the_best_published(tmp_path: Path) -> None:
    out = tmp_path / "nab.json"
    result = CliRunner().invoke(
        cli, ["bench", "nab", str(FIXTURES / "nab"), "--json", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(out.read_bytes())
    subset = report["subsets"]["realAdExchange"]
    assert [f["file"] for f in subset["files"]] == sorted(
        p.name for p in (FIXTURES / "nab" / "realAdExchange").glob("*.csv")
    )
    assert sum(f["windows"] for f in subset["files"]) == 14
    assert subset["best_published"] == ["numenta", 76.9]
    assert subset["score"] > 76.9
    assert orjson.loads(result.output) == report


def test_bench_nab_scores_nab_result_files_too(tmp_path: Path) -> None:
    # A results folder in NAB's layout, written from the fixture's detections.
    data = orjson.loads((FIXTURES / "nab_published.json").read_bytes())
    detector = data["detectors"]["numenta"]
    for key, rows in detector["detections"].items():
        subset, name = key.split("/")
        if subset != "realAdExchange":
            continue
        folder = tmp_path / "numenta" / subset
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["timestamp,value,anomaly_score,label"]
        lines += [f"t,0,{1.0 if i in rows else 0.0},0" for i in range(data["files"][key]["rows"])]
        (folder / f"numenta_{name}").write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(
        cli,
        [
            "bench", "nab", str(FIXTURES / "nab"), "--json", "--results", str(tmp_path),
            "--detector", "numenta", "--threshold", "0.5",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["detector"] == "numenta"
    assert report["subsets"]["realAdExchange"]["score"] == pytest.approx(76.9, abs=0.1)


def test_a_checkout_of_nab_reads_like_the_shared_folder(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_bytes(
        (FIXTURES / "nab" / "windows.json").read_bytes()
    )
    (tmp_path / "data" / "realAdExchange").symlink_to(FIXTURES / "nab" / "realAdExchange")
    assert nab.subset_names(tmp_path) == ["realAdExchange"]
    shared = nab.load_series(FIXTURES / "nab", ["realAdExchange"])
    assert nab.load_series(tmp_path, ["realAdExchange"]) == shared
    assert sum(len(s.windows) for s in shared) == 14


def test_a_subset_without_windows_reports_its_raw_cost_not_a_score() -> None:
    subset = nab.SubsetScore("quiet")
    subset.files.append(("a", nab.score_file(100, [], [10, 50, 60])))
    assert subset.score is None
    assert subset.raw == pytest.approx(-0.22)  # two false positives after probation
    assert nab.report({"quiet": subset})["quiet"]["score"] is None
