"""`gridwatch replay` and `gridwatch record` against the real broker, as subprocesses."""

from __future__ import annotations

import gzip
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from streams.broker.admin import ensure_topics
from streams.core.topics import Topics
from tests.factories import (
    BASE_TIME,
    hotline_factory,
    inspection_factory,
    sensor_factory,
    to_bytes,
    without,
)
from tests.support import GRIDWATCH, free_port, read_all


def cli_env(bootstrap: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update({"GRIDWATCH_BOOTSTRAP": bootstrap, "GRIDWATCH_TOPIC_PREFIX": prefix})
    return env


def gridwatch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRIDWATCH, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def ms(event: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(event["event_time"]).timestamp() * 1000)


@pytest.fixture
def topics(kafka_bootstrap: str, topic_prefix: str) -> Topics:
    names = Topics(topic_prefix)
    ensure_topics(kafka_bootstrap, names.specs(4), 4, 1)
    return names


def test_replay_publishes_each_line_unchanged_and_record_dumps_it_back(
    kafka_bootstrap: str, topic_prefix: str, topics: Topics, tmp_path: Path
) -> None:
    # Events in event-time order (the factories stamp them in creation order).
    events: list[dict[str, Any]] = []
    for i in range(40):
        events.append(sensor_factory())
        if i % 4 == 1:
            events.append(hotline_factory())
        if i % 9 == 2:
            events.append(inspection_factory())
        if i == 17:
            events.append(without(hotline_factory(), "asset_id"))
        if i == 23:
            events.append(
                {
                    "kind": "ack",
                    "ack_id": "ack-1",
                    "asset_id": "wm-003",
                    "acknowledged_by": "duty officer",
                    "event_time": sensor_factory()["event_time"],
                }
            )
    lines = [to_bytes(event) for event in events]
    middle = len(lines) // 2
    malformed = b'{"kind":"sensor","asset_id":"wm-001","event_time":"2026-11-27T08:00:00"}'
    log = tmp_path / "city.jsonl"
    log_lines = [*lines[:middle], malformed, *lines[middle:]]
    log.write_bytes(b"".join(line + b"\n" for line in log_lines))
    env = cli_env(kafka_bootstrap, topic_prefix)

    replayed = gridwatch(env, "replay", str(log))

    assert replayed.returncode == 0, replayed.stderr
    assert f"line {middle + 1}: event_time '2026-11-27T08:00:00' has no UTC offset" in (
        replayed.stderr
    )
    assert "line " not in replayed.stderr.replace(f"line {middle + 1}:", "")
    assert "1 malformed lines skipped" in replayed.stderr
    assert topics.sensor in replayed.stdout

    topic_of = {
        "sensor": topics.sensor,
        "hotline": topics.hotline,
        "inspection": topics.inspection,
        "ack": topics.acks,
    }
    for kind, topic in topic_of.items():
        expected = sorted(
            (
                ms(event),
                (event["service_request_id"] if kind == "hotline" else event["asset_id"]).encode(),
                line,
            )
            for event, line in zip(events, lines, strict=True)
            if event["kind"] == kind
        )
        assert expected, kind
        got = sorted((r.timestamp_ms, r.key, r.value) for r in read_all(kafka_bootstrap, topic))
        assert got == expected, kind

    sensor_lines = [
        line for event, line in zip(events, lines, strict=True) if event["kind"] == "sensor"
    ]
    sensor_times = [ms(event) for event in events if event["kind"] == "sensor"]
    assert sensor_times == sorted(sensor_times)
    assert len(set(sensor_times)) == len(sensor_times)

    # Everything, by role name.
    whole = tmp_path / "sensor.jsonl"
    recorded = gridwatch(env, "record", "--topic", "sensor", "--out", str(whole))
    assert recorded.returncode == 0, recorded.stderr
    assert whole.read_bytes() == b"".join(line + b"\n" for line in sensor_lines)
    assert f"{len(sensor_lines)} records written from 4 partitions, 0 skipped" in recorded.stderr

    # A later cut, by time.
    cut = 25
    later = tmp_path / "later.jsonl"
    from_time = next(e for e in events if e["kind"] == "sensor" and ms(e) == sensor_times[cut])
    recorded = gridwatch(
        env,
        "record",
        "--topic",
        "sensor",
        "--out",
        str(later),
        "--from-time",
        from_time["event_time"],
    )
    assert recorded.returncode == 0, recorded.stderr
    assert later.read_bytes() == b"".join(line + b"\n" for line in sensor_lines[cut:])

    # Gzipped, by full topic name, up to a time.
    until = 12
    until_time = next(e for e in events if e["kind"] == "sensor" and ms(e) == sensor_times[until])
    zipped = tmp_path / "early.jsonl.gz"
    recorded = gridwatch(
        env,
        "record",
        "--topic",
        topics.sensor,
        "--out",
        str(zipped),
        "--to-time",
        until_time["event_time"],
    )
    assert recorded.returncode == 0, recorded.stderr
    assert gzip.decompress(zipped.read_bytes()) == b"".join(
        line + b"\n" for line in sensor_lines[: until + 1]
    )

    # From an offset: each partition's first record is left out.
    firsts = {r.value for r in read_all(kafka_bootstrap, topics.sensor) if r.offset == 0}
    assert len(firsts) == 4
    rest = tmp_path / "rest.jsonl"
    recorded = gridwatch(
        env, "record", "--topic", "sensor", "--out", str(rest), "--from-offset", "1"
    )
    assert recorded.returncode == 0, recorded.stderr
    assert rest.read_bytes() == b"".join(
        line + b"\n" for line in sensor_lines if line not in firsts
    )

    # The recorded log replays (to stdout here) as the same lines.
    to_stdout = gridwatch(env, "record", "--topic", "sensor", "--out", "-")
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout.encode() == whole.read_bytes()


def test_record_skips_and_counts_tombstones_and_values_that_are_not_json(
    kafka_bootstrap: str, topic_prefix: str, topics: Topics, tmp_path: Path
) -> None:
    from tests.support import produce

    good = to_bytes({"asset_id": "wm-1", "risk_score": 10})
    produce(
        kafka_bootstrap,
        topics.risk,
        [(b"wm-1", good), (b"wm-2", b"not json"), (b"wm-3", None)],  # type: ignore[list-item]
    )
    out = tmp_path / "risk.jsonl"
    recorded = gridwatch(
        cli_env(kafka_bootstrap, topic_prefix), "record", "--topic", "risk", "--out", str(out)
    )
    assert recorded.returncode == 0, recorded.stderr
    assert out.read_bytes() == good + b"\n"
    assert "1 records written" in recorded.stderr
    assert "2 skipped (1 tombstones, 1 not JSON)" in recorded.stderr


def test_record_of_a_missing_topic_fails(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    out = tmp_path / "none.jsonl"
    recorded = gridwatch(
        cli_env(kafka_bootstrap, topic_prefix), "record", "--topic", "alerts", "--out", str(out)
    )
    assert recorded.returncode == 1
    assert f"topic {topic_prefix}alerts does not exist" in recorded.stderr
    assert not out.exists()


def test_replay_without_a_broker_exits_1(topic_prefix: str, tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    log.write_bytes(to_bytes(sensor_factory(event_time=BASE_TIME.isoformat())) + b"\n")
    address = f"127.0.0.1:{free_port()}"
    replayed = gridwatch(cli_env(address, topic_prefix), "replay", str(log), "--speed", "10")
    assert replayed.returncode == 1
    assert f"no Kafka broker answers at {address}" in " ".join(replayed.stderr.split())
