"""`gridwatch demo` end to end: alerts appear, and it leaves nothing of its own running."""

from __future__ import annotations

import os
import subprocess
import time

import psutil

from tests.support import GRIDWATCH, free_port


def demo_children() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if any(part.endswith("gridwatch") for part in cmdline) and (
                "worker" in cmdline or "simulate" in cmdline
            ):
                prefix = process.environ().get("GRIDWATCH_TOPIC_PREFIX", "")
                if prefix.startswith("demo"):
                    found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_demo_shows_alerts_and_stops_what_it_started(kafka_bootstrap, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env |= {
        "GRIDWATCH_BOOTSTRAP": kafka_bootstrap,
        "GRIDWATCH_WEB_PORT": str(free_port()),
        "GRIDWATCH_HOME": str(tmp_path / "home"),
    }
    started = time.monotonic()
    result = subprocess.run(
        [GRIDWATCH, "demo", "--duration", "45"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    output = result.stdout.decode()
    assert result.returncode == 0, output + result.stderr.decode()
    assert "ALERT Alert" in output
    assert "demo finished" in output
    assert time.monotonic() - started < 240
    assert demo_children() == []
    # The broker was already there: the demo must not have stopped it.
    assert "stopped the local broker" not in output
    logs = list((tmp_path / "home" / "demo").glob("*/worker.log"))
    assert logs
