"""`gridwatch demo` end to end: alerts appear, and it leaves nothing of its own running."""

from __future__ import annotations

import os
import subprocess
import time

from tests.support import GRIDWATCH, free_port, gridwatch_processes


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
    assert gridwatch_processes(("worker", "simulate"), "demo") == []
    # The broker was already there: the demo must not have stopped it.
    assert "stopped the local broker" not in output
    logs = list((tmp_path / "home" / "demo").glob("*/worker.log"))
    assert logs
