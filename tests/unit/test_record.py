"""The Kafka-free parts of `gridwatch record`."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from streams.broker.record import (
    NotJson,
    RecordBuffer,
    log_line,
    resolve_topic,
)
from streams.core.eventlog import open_log, read_log, write_log
from streams.core.timefmt import parse_rfc3339, timestamp_text
from streams.core.topics import Topics
from tests.factories import sensor_factory, to_bytes


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("sensor", "city7.sensor"),
        ("hotline", "city7.hotline"),
        ("inspection", "city7.inspection"),
        ("alerts", "city7.alerts"),
        ("risk", "city7.risk"),
        ("acks", "city7.acks"),
        ("dlq", "city7.dlq"),
        ("assets", "city7.assets"),
        ("gridwatch.sensor", "gridwatch.sensor"),
        ("city7.internal.events-by-asset", "city7.internal.events-by-asset"),
        ("prefix", "prefix"),
    ],
)
def test_resolve_topic(name, topic):
    assert resolve_topic(name, Topics("city7.")) == topic


def test_a_single_line_value_is_kept_byte_for_byte():
    value = b'{"b": 1.50,  "a":"\\u00e9"}'
    assert log_line(value) == value


def test_a_multi_line_value_is_re_serialized_on_one_line():
    event = sensor_factory(description="two\nlines")
    pretty = orjson.dumps(event, option=orjson.OPT_INDENT_2)
    assert b"\n" in pretty
    line = log_line(pretty)
    assert b"\n" not in line
    assert orjson.loads(line) == event
    assert line == orjson.dumps(event)
    crlf = b'{"kind":\r\n "sensor"}'
    assert log_line(crlf) == b'{"kind":"sensor"}'


@pytest.mark.parametrize("value", [b"", b"not json", b"\xff\xfe", b'{"a": NaN}', b'{"a":'])
def test_values_that_are_not_json_raise(value):
    with pytest.raises(NotJson):
        log_line(value)


def test_buffer_orders_by_timestamp_then_partition_then_offset():
    buffer = RecordBuffer()
    # (timestamp, partition, offset, value) as they might arrive from poll().
    arrivals = [
        (300, 1, 7, b'{"n":"p1-o7"}'),
        (100, 1, 5, b'{"n":"p1-o5"}'),
        (200, 0, 9, b'{"n":"p0-o9"}'),
        (200, 0, 3, b'{"n":"p0-o3"}'),  # same timestamp and partition: offset decides
        (200, 2, 1, b'{"n":"p2-o1"}'),
        (100, 0, 8, b'{"n":"p0-o8"}'),  # same timestamp as p1-o5: partition decides
        (50, 3, 100, b'{"n":"p3-o100"}'),  # an out-of-order timestamp within a partition
    ]
    for timestamp, partition, offset, value in arrivals:
        buffer.add(timestamp, partition, offset, value)
    assert [orjson.loads(line)["n"] for line in buffer.lines()] == [
        "p3-o100",
        "p0-o8",
        "p1-o5",
        "p0-o3",
        "p0-o9",
        "p2-o1",
        "p1-o7",
    ]


def test_buffer_skips_and_counts_tombstones_and_values_that_are_not_json():
    buffer = RecordBuffer()
    buffer.add(1, 0, 0, b'{"ok":1}')
    buffer.add(2, 0, 1, None)
    buffer.add(3, 0, 2, b"not json")
    buffer.add(4, 0, 3, None)
    buffer.add(5, 0, 4, b'{"ok":2}')
    assert list(buffer.lines()) == [b'{"ok":1}', b'{"ok":2}']
    assert buffer.tombstones == 2
    assert buffer.not_json == 1
    assert buffer.skipped == 3


def test_written_log_reads_back_line_for_line(tmp_path):
    lines = [to_bytes(sensor_factory()) for _ in range(3)]
    handle = io.BytesIO()
    assert write_log(lines, handle) == 3
    assert handle.getvalue() == b"".join(line + b"\n" for line in lines)
    for name in ("log.jsonl", "log.jsonl.gz"):
        path = tmp_path / name
        with open_log(path) as out:
            write_log(lines, out)
        assert [line for _, line in read_log(path)] == lines
    assert gzip.decompress((tmp_path / "log.jsonl.gz").read_bytes()).count(b"\n") == 3


def test_parse_rfc3339():
    assert parse_rfc3339("2026-11-27T08:00:00Z") == datetime(2026, 11, 27, 8, tzinfo=UTC)
    assert parse_rfc3339("2026-11-27T16:00:00+08:00") == datetime(
        2026, 11, 27, 16, tzinfo=timezone(timedelta(hours=8))
    )
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_rfc3339("2026-11-27T08:00:00")
    with pytest.raises(ValueError, match="not an RFC 3339 time"):
        parse_rfc3339("tomorrow")


def test_timestamp_text():
    assert timestamp_text(1_764_230_400_123) == "2025-11-27T08:00:00.123000+00:00"
