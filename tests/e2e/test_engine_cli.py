"""`gridwatch assets load | process | cap-xml | bench engine` as an engineer runs them."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import uuid
from pathlib import Path

import orjson

from schemas import Alert, Asset, decode_model
from streams.broker.admin import ensure_topics
from streams.core.cap_xml import cap_xsd_path
from streams.core.topics import Topics
from tests.constants import SAMPLE_REGISTRY as SAMPLE
from tests.scenarios import ALL_ASSETS, water_main_burst
from tests.support import GRIDWATCH, read_all


def gridwatch(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [GRIDWATCH, *args], input=stdin, capture_output=True, timeout=300, check=False, env=env
    )


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "water.jsonl"
    lines = [orjson.dumps(e) for e in water_main_burst().events]
    lines.insert(10, b"{not json")
    log.write_bytes(b"\n".join(lines) + b"\n")
    registry = tmp_path / "assets.geojson"
    registry.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": ALL_ASSETS}))
    return log, registry


def test_process_is_deterministic_and_reports_bad_lines(tmp_path):
    log, registry = write_inputs(tmp_path)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / f"alerts-{name}.jsonl"
        result = gridwatch(
            "process", str(log), "--assets", str(registry), "--out", str(out),
            "--risk-out", str(tmp_path / f"risk-{name}.jsonl"),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr.decode()
        assert b"line 11: not_json" in result.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    alerts = [decode_model(line, Alert) for line in outputs[0].splitlines()]
    assert alerts[0].msgType == "Alert"
    assert alerts[-1].msgType == "Cancel"
    assert (tmp_path / "risk-a.jsonl").read_bytes() == (tmp_path / "risk-b.jsonl").read_bytes()


def test_process_reads_gzip_and_stdin(tmp_path):
    log, registry = write_inputs(tmp_path)
    zipped = tmp_path / "water.jsonl.gz"
    zipped.write_bytes(gzip.compress(log.read_bytes()))
    from_file = gridwatch("process", str(log), "--assets", str(registry))
    from_gzip = gridwatch("process", str(zipped), "--assets", str(registry))
    from_stdin = gridwatch("process", "-", "--assets", str(registry), stdin=log.read_bytes())
    assert from_file.returncode == from_gzip.returncode == from_stdin.returncode == 0
    assert from_file.stdout == from_gzip.stdout == from_stdin.stdout
    assert from_file.stdout.count(b"\n") >= 3


def test_cap_xml_of_processed_alerts_validates(tmp_path):
    log, registry = write_inputs(tmp_path)
    alerts = gridwatch("process", str(log), "--assets", str(registry)).stdout
    assert cap_xsd_path() is not None
    result = gridwatch("cap-xml", "--validate", stdin=alerts)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.count(b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">') == len(
        alerts.splitlines()
    )


def test_assets_load_publishes_the_sample_registry(kafka_bootstrap, tmp_path):
    prefix = f"al{uuid.uuid4().hex[:8]}."
    topics = Topics(prefix)
    ensure_topics(kafka_bootstrap, topics.specs(4), 4, 1)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")},
        "GRIDWATCH_BOOTSTRAP": kafka_bootstrap,
        "GRIDWATCH_TOPIC_PREFIX": prefix,
    }
    result = gridwatch("assets", "load", str(SAMPLE), env=env)
    assert result.returncode == 0, result.stderr.decode()
    features = json.loads(SAMPLE.read_text())["features"]
    records = read_all(kafka_bootstrap, topics.assets)
    assert len(records) == len(features)
    loaded = {r.key.decode(): decode_model(r.value, Asset) for r in records if r.key and r.value}
    assert set(loaded) == {f["properties"]["asset_id"] for f in features}
    assert {a.asset_type for a in loaded.values()} == {
        "lifeline_corridor",
        "traffic_trunk",
        "crowded_place",
    }


def test_bench_engine_prints_the_contracted_json(tmp_path):
    out = tmp_path / "bench.json"
    result = gridwatch(
        "bench", "engine", "--events", "3000", "--assets", "50", "--repeat", "1", "--json",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    printed = json.loads(result.stdout)
    assert printed == json.loads(out.read_text())
    for key in ("engine_events_per_s", "decode_events_per_s", "ratio"):
        assert printed[key] > 0
    assert (
        abs(printed["ratio"] - printed["engine_events_per_s"] / printed["decode_events_per_s"])
        < 0.01
    )
