"""`gridwatch bench pipeline` on the test broker: every stage runs, and nothing stays.

Throughput is reported, never asserted: these tests check that each stage
measured what it says (every event applied, alerts matched to their events)
and that the run removes its workers and topics.
"""

from __future__ import annotations

import os
import subprocess

import orjson

from tests.support import GRIDWATCH, wait_for_no_bench_leftovers


def test_bench_pipeline_measures_every_stage_and_cleans_up(kafka_bootstrap, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env |= {"GRIDWATCH_BOOTSTRAP": kafka_bootstrap, "GRIDWATCH_HOME": str(tmp_path / "home")}
    out = tmp_path / "pipeline.json"
    completed = subprocess.run(
        [GRIDWATCH, "bench", "pipeline", "--events", "3000", "--workers", "1,2",
         "--rates", "300", "--latency-seconds", "6", "--idle-wait-s", "0.1",
         "--json", "--out", str(out)],
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr.decode()[-3000:]
    result = orjson.loads(completed.stdout)
    assert orjson.loads(out.read_bytes()) == result
    assert result["events"] == 3000
    for key in (
        "raw_produce_events_per_s",
        "replay_events_per_s",
        "raw_consume_events_per_s",
        "record_events_per_s",
        "raw_loop_events_per_s",
        "raw_batch_loop_events_per_s",
        "faust_bare_events_per_s",
    ):
        assert result[key] > 0, key
    assert result["replay_ratio"] == round(
        result["replay_events_per_s"] / result["raw_produce_events_per_s"], 3
    )

    assert result["record_ratio"] == round(
        result["record_events_per_s"] / result["raw_consume_events_per_s"], 3
    )

    runs = {row["workers"]: row for row in result["workers"]}
    assert set(runs) == {1, 2}
    # Every event is applied (but a few hotline cases that match no asset); two workers may
    # apply a few again after their rebalance (at least once), never fewer.
    assert 0.99 * result["events"] <= runs[1]["applied"] <= result["events"]
    assert runs[2]["applied"] >= runs[1]["applied"]
    # One worker starts on the backlog; two form their group before it is written.
    assert runs[1]["backlog"] == "before_start"
    assert "start_to_group_formed_s" not in runs[1]
    assert runs[2]["backlog"] == "after_group_formed"
    assert runs[2]["start_to_group_formed_s"] > 0
    assert runs[2]["measured_from"] == "continued"
    for row in runs.values():
        assert 0 <= row["steady_events"] <= row["applied"]
        # The settled group's rate when it applied at least half, else the whole backlog's.
        if row["measured_from"] == "first_received":
            assert row["events_per_s"] == row["backlog_events_per_s"]
        elif row["measured_from"] == "settled":
            assert 2 * row["steady_events"] >= row["applied"]
        # A stopped group continues on records already in its sockets: received at once.
        first_received = row["start_to_first_received_s"]
        assert first_received >= 0 if row["workers"] > 1 else first_received > 0
        assert first_received <= row["start_to_first_applied_s"]
        assert row["start_to_first_applied_s"] > 0
        assert row["events_per_s"] > 0
    assert runs[1]["speedup_over_one"] == 1.0

    (latency,) = result["latency"]
    assert latency["rate_events_per_s"] == 300
    assert latency["idle_wait_s"] == 0.1  # the latency run's worker got the asked setting
    assert latency["events"] == 1800
    # The second city has incidents early enough to alert while it is sent.
    assert latency["alerts"] > 0
    assert 0 <= latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]

    # Nothing of the run stays: no worker, no topic or group with its prefix.
    wait_for_no_bench_leftovers(kafka_bootstrap)
