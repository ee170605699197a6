"""`gridwatch bench scaling` on the test broker: every cell measured, and nothing stays.

Throughput, memory and recovery times are reported, never asserted: the test
checks that every cell of the grid ran with the asked partitions and group
size, that every event was applied, and that the run removes what it made.
"""

from __future__ import annotations

import os
import subprocess

import orjson

from tests.support import GRIDWATCH, wait_for_no_bench_leftovers


def test_bench_scaling_measures_every_cell_and_cleans_up(kafka_bootstrap, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env |= {"GRIDWATCH_BOOTSTRAP": kafka_bootstrap, "GRIDWATCH_HOME": str(tmp_path / "home")}
    out = tmp_path / "scaling.json"
    completed = subprocess.run(
        [GRIDWATCH, "bench", "scaling", "--assets", "300,1200", "--partitions", "2",
         "--workers", "1,2", "--events", "1200", "--json", "--out", str(out)],
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr.decode()[-3000:]
    result = orjson.loads(completed.stdout)
    assert orjson.loads(out.read_bytes()) == result
    cells = {(row["assets"], row["partitions"], row["workers"]): row for row in result["rows"]}
    assert set(cells) == {(300, 2, 1), (300, 2, 2), (1200, 2, 1), (1200, 2, 2)}
    for row in cells.values():
        assert row["events"] == 1200
        assert row["events_per_s"] > 0
        assert 0 < row["start_to_first_applied_s"] <= row["start_to_done_s"]
        assert row["backlog_events_per_s"] > 0
        # A whole worker process (Python, Faust, the registry) holds tens of MiB at least.
        assert row["peak_rss_mb"] > 20
        assert row["recovery_s"] > 0

    # Nothing of the run stays: no worker, no topic or group with its prefix.
    wait_for_no_bench_leftovers(kafka_bootstrap)


def test_bench_scaling_refuses_fractional_counts():
    completed = subprocess.run(
        [GRIDWATCH, "bench", "scaling", "--workers", "1.5"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert b"whole numbers" in completed.stderr
